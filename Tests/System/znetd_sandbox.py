"""Library of the znetd system tests: boot systemd-sandbox.sh sandboxes and drive znetd in them.

Used by conftest.py (fixtures) and the test modules.  Its name is unique on purpose: other
test directories have their own ``conftest`` module, and ``from conftest import ...`` would
pick whichever was imported first.

* :class:`Sandbox`: a booted sandbox (``exec``, ``write``, ``journal``, ``connect``, ...).
* :class:`SandboxManager`: boots sandboxes (``--stop-with`` the pytest process) and stops
  every one it booted.
* :class:`BackgroundClient`: a netclient.py running in the sandbox's netns, in the background.
* :class:`ZnetdDeployment`: znetd, its shipped units, a config and two backends in a sandbox.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SANDBOX_SH = HERE / "systemd-sandbox.sh"
NETCLIENT = HERE / "netclient.py"
UNITS_DIR = REPO_ROOT / "units"
DEFAULT_BIN = REPO_ROOT / ".build" / "release" / "znetd"

STRICT = os.environ.get("ZNETD_SYSTEM_STRICT", "") == "1"


def skip_or_fail(reason):
    if STRICT:
        pytest.fail(f"{reason} (ZNETD_SYSTEM_STRICT=1)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------


def wait_until(predicate, timeout, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns a truthy value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def _decode_journal_value(value):
    """journalctl -o json writes non-UTF-8 values as arrays of byte values."""
    if isinstance(value, list):
        if value and all(isinstance(v, int) for v in value):
            return bytes(value).decode("utf-8", "replace")
        return [_decode_journal_value(v) for v in value]
    return value


def _seqnum(entry):
    """An entry's sequence number, from its cursor (``...;i=<hex>;...``).  The sandbox's
    journal is one volatile file, so sequence numbers order all its entries."""
    fields = dict(part.split("=", 1) for part in entry["__CURSOR"].split(";") if "=" in part)
    return int(fields["i"], 16)


def _cgroup2_mounted():
    """True if a cgroup2 hierarchy is mounted where systemd-sandbox.sh looks for it."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) > 4 and right.split()[:1] == ["cgroup2"] and \
                fields[4] in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            return True
    return False


def sandbox_prerequisites():
    """None if sandboxes can be booted here, else why not."""
    if os.geteuid() != 0:
        return ("system tests need root: they boot systemd as PID 1 in private namespaces "
                "(Tests/System/systemd-sandbox.sh)")
    for tool in ("unshare", "nsenter", "findmnt", "setsid"):
        if shutil.which(tool) is None:
            return f"system tests need {tool} (util-linux)"
    systemd = os.environ.get("SDSANDBOX_SYSTEMD", "/lib/systemd/systemd")
    if not os.access(systemd, os.X_OK):
        return f"system tests need systemd installed ({systemd} not found)"
    if not _cgroup2_mounted():
        return ("system tests need a cgroup2 hierarchy (/sys/fs/cgroup or "
                "/sys/fs/cgroup/unified) for the sandbox's own cgroup")
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--cgroup", "--net",
         "true"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return ("system tests need unshare to create PID, mount, UTS, IPC, cgroup and "
                f"network namespaces: {probe.stderr.strip()}")
    return None


# --------------------------------------------------------------------------------------
# Sandboxes
# --------------------------------------------------------------------------------------


class Sandbox:
    """A booted systemd-sandbox; ``pid`` is the host PID of its systemd (PID 1 inside)."""

    def __init__(self, pid):
        self.pid = pid
        self.root = Path(f"/proc/{pid}/root")

    def __repr__(self):
        return f"Sandbox(pid={self.pid})"

    # Commands --------------------------------------------------------------------------

    def exec(self, *cmd, check=False, timeout=30, input=None):
        """Run ``cmd`` inside the sandbox (all its namespaces, clean environment)."""
        return subprocess.run(
            [str(SANDBOX_SH), "exec", str(self.pid), *map(str, cmd)],
            input=input, capture_output=True, text=True, timeout=timeout, check=check)

    def systemctl(self, *args, check=True, timeout=30):
        result = self.exec("systemctl", "--no-pager", *args, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"systemctl {' '.join(args)} failed with {result.returncode}: "
                f"{result.stderr.strip()}")
        return result

    def is_active(self, unit):
        """The ActiveState word (``active``, ``inactive``, ``failed``, ``activating`` ...)."""
        return self.exec("systemctl", "is-active", unit).stdout.strip()

    def show(self, unit, *props):
        """``systemctl show -p P...`` as a dict."""
        out = self.systemctl("show", unit, *[f"--property={p}" for p in props]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    # Files -----------------------------------------------------------------------------

    def path(self, path):
        """Host view of a path inside the sandbox (through /proc/PID/root)."""
        return self.root / str(path).lstrip("/")

    def write(self, path, text, mode=0o644):
        """Write ``text`` (str or bytes) to ``path`` inside the sandbox.

        The sandbox's root is an overlay with a tmpfs upper layer: the file lives in RAM
        and disappears with the sandbox."""
        target = self.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode() if isinstance(text, str) else text
        target.write_bytes(data)
        target.chmod(mode)

    def copy_in(self, source, path, mode=0o755):
        target = self.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(source, tmp)
        tmp.chmod(mode)
        tmp.replace(target)

    def remove(self, path):
        """Remove a file inside the sandbox; True if it existed."""
        try:
            self.path(path).unlink()
            return True
        except FileNotFoundError:
            return False

    # Journal ---------------------------------------------------------------------------

    def journal(self, unit=None, *matches, after=None):
        """Entries of ``journalctl -u UNIT -o json`` (plus field matches) as dicts; with
        ``after`` (a :meth:`journal_mark`), only the entries written since the mark.

        The filtering happens here: journalctl 252 combines ``--after-cursor`` badly with
        matches (entries of the unit after the cursor went missing when the cursor's own
        entry did not match)."""
        cmd = ["journalctl", "--no-pager", "-o", "json"]
        if unit:
            cmd += ["-u", unit]
        cmd += list(matches)
        out = self.exec(*cmd, timeout=20).stdout
        entries = []
        for line in out.splitlines():
            if line.strip():
                entry = json.loads(line)
                if after is not None and _seqnum(entry) <= after:
                    continue
                entries.append({k: _decode_journal_value(v) for k, v in entry.items()})
        return entries

    def journal_mark(self):
        """The sequence number of the newest journal entry (0 if none), for ``after=``."""
        out = self.exec("journalctl", "--no-pager", "-o", "json", "-n", "1").stdout
        lines = [line for line in out.splitlines() if line.strip()]
        return _seqnum(json.loads(lines[-1])) if lines else 0

    def messages(self, unit=None, after=None):
        return [str(e.get("MESSAGE", "")) for e in self.journal(unit, after=after)]

    # Network (the sandbox's own network namespace) --------------------------------------

    def netns_command(self, *cmd):
        """Host command line that runs ``cmd`` in the sandbox's network namespace only."""
        return ["nsenter", "-t", str(self.pid), "-n", "--", *map(str, cmd)]

    def _client_command(self, mode, params):
        params = dict(params)
        for key in ("data", "expect"):
            if isinstance(params.get(key), (bytes, bytearray)):
                params[key] = base64.b64encode(params[key]).decode()
        return self.netns_command(sys.executable, NETCLIENT, mode, json.dumps(params))

    def client(self, mode, params, timeout=30):
        """Run netclient.py MODE inside the sandbox's netns; its JSON result as a dict."""
        result = subprocess.run(self._client_command(mode, params), capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise AssertionError(
                f"netclient {mode} failed ({result.returncode}): {result.stderr.strip()}")
        reply = json.loads(lines[-1])
        if "received" in reply:
            reply["received"] = base64.b64decode(reply["received"])
        return reply

    def client_popen(self, mode, params):
        """Start netclient.py MODE in the background: a :class:`BackgroundClient`."""
        return BackgroundClient(subprocess.Popen(
            self._client_command(mode, params), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))

    def connect(self, port, data=b"", host="127.0.0.1", timeout=5, half_close=False,
                http=False, eof_wait=0.0):
        """One TCP exchange from inside the sandbox: connect to host:port, send ``data``,
        read to EOF (``http``: to the end of the HTTP response, then wait up to ``eof_wait``
        seconds for EOF).  Returns netclient's dict (local, sent, received as bytes, error,
        seconds, complete, eof, eof_after)."""
        return self.client("request", {"port": port, "host": host, "data": data,
                                       "io_timeout": timeout, "half_close": half_close,
                                       "http": http, "eof_wait": eof_wait},
                           timeout=timeout + eof_wait + 10)

    def listening(self, port):
        """``ss`` lines (with owning processes) of TCP sockets listening on ``port``."""
        out = self.exec("ss", "-Hltnp", f"sport = :{port}").stdout
        return [line for line in out.splitlines() if line.strip()]


class BackgroundClient:
    """A netclient.py running in the background; a context manager that kills it on exit.

    ``readline(timeout)`` reads its progress lines without blocking past the timeout;
    ``finish()`` closes its stdin (the signal to stop) and returns its JSON result."""

    def __init__(self, proc):
        self.proc = proc
        self.buffer = b""
        self.lines = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream and not stream.closed:
                stream.close()

    def _fill(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not ready:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return None  # EOF
        self.buffer += chunk
        return True

    def readline(self, timeout):
        """The next stdout line (without newline), or None at EOF or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            got = self._fill(deadline - time.monotonic())
            if not got:
                return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        text = line.decode()
        self.lines.append(text)
        return text

    def read_available(self):
        """Read the lines already written, without waiting; the last one, or None."""
        line = None
        while True:
            got = self.readline(0)
            if got is None:
                return line if line is not None else (self.lines[-1] if self.lines else None)
            line = got

    def wait_for_line(self, predicate, timeout, message="line"):
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(deadline - time.monotonic())
            if line is None:
                raise AssertionError(
                    f"netclient: no {message} within {timeout}s (last lines {self.lines[-3:]}, "
                    f"stderr {self._stderr()!r})")
            if predicate(line):
                return line

    def _stderr(self):
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")[-500:]

    def finish(self, timeout=30):
        """Close stdin (tells loop/hold to stop) and return the final JSON result."""
        self.proc.stdin.close()
        deadline = time.monotonic() + timeout
        while self._fill(deadline - time.monotonic()):
            pass
        if self.proc.poll() is None and time.monotonic() >= deadline:
            raise AssertionError(f"netclient did not finish within {timeout}s")
        self.proc.wait(timeout=5)
        lines = self.buffer.decode().strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise AssertionError(f"netclient failed ({self.proc.returncode}): "
                                 f"{self.proc.stderr.read().decode(errors='replace')}")
        self.lines += lines
        reply = json.loads(lines[-1])
        if "received" in reply:
            reply["received"] = base64.b64decode(reply["received"])
        return reply


class SandboxManager:
    """Boots sandboxes for the session and remembers them, to stop every one at the end."""

    def __init__(self):
        self.booted = []

    def boot(self, *options, timeout=90):
        reason = sandbox_prerequisites()
        if reason:
            skip_or_fail(reason)
        # The script has its own boot deadline (--timeout, 60 s) and cleans up when it
        # fails.  Past ours, SIGTERM lets its trap kill the half-booted sandbox (a SIGKILL
        # would leave it behind: the --stop-with watcher starts only once booted).
        proc = subprocess.Popen(
            [str(SANDBOX_SH), "boot", f"--stop-with={os.getpid()}", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            raise RuntimeError(f"systemd-sandbox.sh boot took over {timeout}s:\n{err}")
        pid = out.strip()
        if proc.returncode != 0 or not pid.isdigit():
            raise RuntimeError(
                f"systemd-sandbox.sh boot failed ({proc.returncode}):\n{err}")
        sandbox = Sandbox(int(pid))
        self.booted.append(sandbox)
        return sandbox

    def stop(self, sandbox):
        if sandbox not in self.booted:
            return
        self.booted.remove(sandbox)
        args = [str(SANDBOX_SH), "stop", "--fast"]
        keep = os.environ.get("ZNETD_SYSTEM_KEEP_JOURNAL")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            args.append(f"--journal={Path(keep) / f'sandbox-{sandbox.pid}.journal'}")
        subprocess.run([*args, str(sandbox.pid)], capture_output=True, text=True, timeout=60)

    def stop_all(self):
        for sandbox in list(self.booted):
            try:
                self.stop(sandbox)
            except Exception as exc:  # keep stopping the others
                print(f"warning: stopping {sandbox} failed: {exc}", file=sys.stderr)


def render_config(services=None, drain_timeout=None):
    """znetd.yaml text. ``services``: {name: {"listen": ..., "target": ..., ...}}."""
    if services is None:
        services = {"web": {"listen": ":8080", "target": "127.0.0.1:9090",
                            "log_connections": True}}
    lines = []
    if drain_timeout:
        lines.append(f"drain_timeout: {drain_timeout}")
    lines.append("services:")
    for name, settings in services.items():
        lines.append(f"  {name}:")
        for key, value in settings.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = json.dumps(value)
            else:
                text = str(value)
            lines.append(f"    {key}: {text}")
    return "\n".join(lines) + "\n"


class HttpReply:
    """What an HTTP/1.0 client received through znetd."""

    def __init__(self, result):
        self.result = result
        self.error = result["error"]
        self.raw = result["received"]
        self.local = result["local"]
        self.sent = result["sent"]
        self.complete = result["complete"]
        self.eof = result["eof"]
        head, _, self.body = self.raw.partition(b"\r\n\r\n")
        first = head.split(b"\r\n", 1)[0].split()
        self.status = int(first[1]) if len(first) >= 2 and first[1].isdigit() else None

    def __repr__(self):
        return f"HttpReply(status={self.status}, error={self.error}, body={self.body[:60]!r})"


class ZnetdDeployment:
    """znetd installed in a sandbox, behind the project's own units."""

    SERVICE = "znetd.service"
    SOCKET = "znetd.socket"
    CONFIG = "/etc/znetd/znetd.yaml"
    DROPIN = "/etc/systemd/system/znetd.service.d/test.conf"
    LISTEN_PORT = 8080
    BACKEND_PORTS = (9090, 9091)
    BIG_SIZE = 300_007  # bytes of /big.bin: several splice-sized reads, odd length

    def __init__(self, sandbox, binary):
        self.sandbox = sandbox
        self.binary = binary

    # Set-up ----------------------------------------------------------------------------

    def install(self):
        sb = self.sandbox
        sb.copy_in(self.binary, "/usr/bin/znetd", mode=0o755)
        self.install_units()
        sb.write(self.CONFIG, render_config())
        for port in self.BACKEND_PORTS:
            root = f"/srv/backend-{port}"
            sb.write(f"{root}/id.txt", f"backend {port}\n")
            sb.write(f"{root}/big.bin", self.big_body())
            sb.exec("systemd-run", f"--unit=backend-{port}", "--quiet",
                    "/usr/bin/python3", "-m", "http.server", port, "--bind", "127.0.0.1",
                    "--directory", root, check=True)
        # PID 1 at debug level logs every sd_notify message it gets ("Got notification
        # message from PID N (READY=1, STATUS=...)"): the tests read READY/RELOADING/
        # STOPPING/WATCHDOG from there.
        sb.systemctl("log-level", "debug")
        sb.systemctl("daemon-reload")
        for port in self.BACKEND_PORTS:
            wait_until(lambda: sb.listening(port), 10, message=f"backend on {port}")

    def install_units(self):
        for unit in (self.SERVICE, self.SOCKET):  # verbatim: the units are under test
            self.sandbox.write(f"/etc/systemd/system/{unit}", (UNITS_DIR / unit).read_bytes())

    @classmethod
    def big_body(cls):
        pattern = bytes(range(256)) * (cls.BIG_SIZE // 256 + 1)
        return pattern[:cls.BIG_SIZE]

    def write_config(self, target_port=9090, drain_timeout=None):
        self.sandbox.write(self.CONFIG, render_config(
            {"web": {"listen": f":{self.LISTEN_PORT}", "target": f"127.0.0.1:{target_port}",
                     "log_connections": True}}, drain_timeout=drain_timeout))

    def baseline(self):
        """Known state for each test: shipped units only, default config, znetd.service
        stopped and not failed, znetd.socket listening."""
        sb = self.sandbox
        if sb.remove(self.DROPIN):
            sb.systemctl("daemon-reload")
        self.write_config()
        if sb.is_active(self.SERVICE) not in ("inactive", "failed"):
            # A wedged znetd (a test failed half-way) must not stall the next test.
            sb.systemctl("stop", "--no-block", self.SERVICE)
            try:
                wait_until(lambda: sb.is_active(self.SERVICE) in ("inactive", "failed"), 2,
                           message="znetd.service to stop")
            except AssertionError:
                sb.systemctl("kill", "--signal=SIGKILL", self.SERVICE, check=False)
                sb.systemctl("stop", self.SERVICE, check=False)
        sb.systemctl("reset-failed", self.SERVICE, self.SOCKET, check=False)
        sb.systemctl("start", self.SOCKET)
        assert sb.is_active(self.SOCKET) == "active"

    # Operations ------------------------------------------------------------------------

    def http_get(self, path="/id.txt", port=None, timeout=5, eof_wait=0.0):
        """GET ``path`` through znetd (HTTP/1.0) from inside the sandbox.  The client stops
        reading at the end of the response (Content-Length), like an HTTP client does;
        ``eof_wait`` > 0 then also waits that long for the connection's EOF."""
        request = f"GET {path} HTTP/1.0\r\nHost: sandbox\r\n\r\n".encode()
        return HttpReply(self.sandbox.connect(port or self.LISTEN_PORT, request,
                                              timeout=timeout, http=True, eof_wait=eof_wait))

    def start(self):
        """Start znetd.service (not by socket) and wait until it is active."""
        self.sandbox.systemctl("start", self.SERVICE)
        return self.wait_active()

    def wait_active(self, timeout=10):
        wait_until(lambda: self.sandbox.is_active(self.SERVICE) == "active", timeout,
                   message="znetd.service active")
        return self.main_pid()

    def main_pid(self):
        return int(self.sandbox.show(self.SERVICE, "MainPID")["MainPID"])

    def show(self, *props):
        return self.sandbox.show(self.SERVICE, *props)

    def journal_text(self, limit=60, units=None):
        """The last ``limit`` entries about ``units`` at info or above, as text lines.

        Filtered here rather than with journalctl's -u/-p/-n, whose combination in
        journalctl 252 sometimes printed nothing (see :meth:`Sandbox.journal`)."""
        units = units or (self.SERVICE, self.SOCKET)
        out = self.sandbox.exec("journalctl", "--no-pager", "-o", "json", "-n", "3000",
                                timeout=20).stdout
        lines = []
        for raw in out.splitlines():
            if not raw.strip():
                continue
            e = {k: _decode_journal_value(v) for k, v in json.loads(raw).items()}
            # znetd's first lines can be filed under init.scope (logged before the forked
            # process joined its cgroup), so its own identifier counts too.
            if (e.get("_SYSTEMD_UNIT") not in units and e.get("UNIT") not in units
                    and e.get("SYSLOG_IDENTIFIER") != "znetd"):
                continue
            if int(e.get("PRIORITY", 6)) > 6:
                continue
            usec = int(e["__REALTIME_TIMESTAMP"])
            stamp = time.strftime("%H:%M:%S", time.gmtime(usec / 1e6))
            micros = usec % 1_000_000
            lines.append(f"{stamp}.{micros:06d} {e.get('SYSLOG_IDENTIFIER', '?')}"
                         f"[{e.get('_PID', '?')}]: {e.get('MESSAGE', '')}")
        return "\n".join(lines[-limit:])

    def thread_states(self):
        """'thread-name wchan' per thread of the running znetd ('' if none): a loop stuck
        in a syscall shows here (e.g. ``znetd-loop0 inet_csk_accept``)."""
        pid = self.main_pid()
        if pid <= 0:
            return ""
        return self.sandbox.exec("sh", "-c", f'for t in /proc/{pid}/task/*; do '
                                 'echo "$(cat $t/comm) $(cat $t/wchan)"; done',
                                 timeout=10).stdout

    def notifications(self, after=None):
        """sd_notify messages PID 1 received from znetd (from its debug log), in order:
        a list of lists of assignments, e.g. [["READY=1", "STATUS=1 service, ..."]]."""
        found = []
        for message in self.sandbox.messages(self.SERVICE, after=after):
            m = re.search(r"Got notification message from PID \d+ \((.*)\)$", message)
            if m:
                # systemd joins the assignments with ", "; STATUS= text may contain one too.
                found.append(re.split(r", (?=[A-Z_]+=)", m.group(1)))
        return found


class GeneratedDeployment(ZnetdDeployment):
    """znetd installed as the package installs it: no unit files, only znetd-generator, which
    turns /etc/znetd/znetd.yaml into znetd-web.socket and znetd-web.service at daemon-reload.

    Everything :class:`ZnetdDeployment` offers works the same on the generated units."""

    SERVICE = "znetd-web.service"
    SOCKET = "znetd-web.socket"
    DROPIN = "/etc/systemd/system/znetd-web.service.d/test.conf"
    GENERATOR = "/usr/lib/systemd/system-generators/znetd-generator"
    GENERATOR_DIR = "/run/systemd/generator"

    def __init__(self, sandbox, binary, generator):
        super().__init__(sandbox, binary)
        self.generator = generator

    def install_units(self):
        self.sandbox.copy_in(self.generator, self.GENERATOR, mode=0o755)

    def install(self):
        super().install()
        # daemon-reload ran the generator; the new socket is wanted by sockets.target, which
        # is already active: starting it again starts what it now wants (at boot this is
        # implicit).
        self.sandbox.systemctl("start", "sockets.target")
