"""Fixtures and helpers for the znetd integration tests.

Everything here is standard library only and works with pytest 7 and 9.

Overview
--------
* ``znetd_bin`` (session fixture): the daemon binary, ``$ZNETD_BIN`` or
  ``<repo>/.build/release/znetd``.  When it is missing every test is skipped.
* ``start_znetd`` (factory fixture): ``start_znetd(config=..., args=..., ready=[...])``
  starts a :class:`Znetd` and guarantees it is SIGKILLed at teardown.
* ``backends`` (factory fixture): threaded loopback backends (:class:`EchoServer`,
  :class:`SinkServer`, :class:`SourceServer`, :class:`SlowServer`,
  :class:`ReplyAfterEOFServer`, :class:`DuplexServer`, :class:`BlackholeTarget`),
  all stopped at teardown.
* ``run_cli``: runs a one-shot ``znetd`` command (``check``, ``version``) with a timeout.
* ``sock_dir``: a short temporary directory for AF_UNIX sockets (108-byte limit).
* Helpers: :func:`free_port`, :func:`connect`, :func:`recv_exact`, :func:`recv_to_eof`,
  :func:`send_pattern`, :func:`pattern_digest`, :func:`echo_round_trip`,
  :func:`wait_closed`, :func:`connection_refused`, :func:`wait_until`,
  :func:`is_listening`, :class:`NotifyListener`.

Addresses are written the way znetd's configuration writes them: ``"127.0.0.1:PORT"``,
``"[::1]:PORT"`` or ``"unix:/path"``; every helper accepts that form.  Only loopback
addresses are ever used.

Every blocking operation has a timeout, and each test's call phase is additionally
bounded by SIGALRM (``$ZNETD_TEST_TIMEOUT`` seconds, default 120) so that a broken
daemon makes a test fail instead of hanging the suite.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import os
import random
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_BIN = REPO_ROOT / ".build" / "release" / "znetd"

KiB = 1 << 10
MiB = 1 << 20

#: Upper bound for the call phase of one test (seconds).
TEST_CALL_TIMEOUT = int(os.environ.get("ZNETD_TEST_TIMEOUT", "120"))

#: Environment variables of the systemd protocols that must never leak from the
#: environment of the test runner into a daemon under test.
_SYSTEMD_ENV = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "JOURNAL_STREAM",
    "INVOCATION_ID",
    "MAINPID",
    "MANAGERPID",
    "SYSTEMD_EXEC_PID",
)


# --------------------------------------------------------------------------------------
# Per-test time limit
# --------------------------------------------------------------------------------------


class CallTimeout(Exception):
    """Raised in the main thread when a test exceeds TEST_CALL_TIMEOUT."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Bound the call phase of every test with SIGALRM (setup/teardown have own timeouts)."""

    def on_alarm(signum, frame):
        raise CallTimeout(f"test exceeded {TEST_CALL_TIMEOUT}s (ZNETD_TEST_TIMEOUT)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_CALL_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------


def clean_env(overrides=None):
    """os.environ without the systemd protocol variables, plus ``overrides``.

    A value of ``None`` in ``overrides`` removes the variable.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SYSTEMD_ENV}
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def wait_until(predicate, timeout, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns a truthy value; return that value.

    Raises AssertionError naming ``message`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def dedent(text):
    """textwrap.dedent, stripping a leading newline (for inline YAML)."""
    return textwrap.dedent(text).lstrip("\n")


def _ephemeral_range():
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_PORT_LOCK = threading.Lock()
_PORTS_HANDED_OUT = set()


def free_port(host="127.0.0.1"):
    """A TCP port on ``host`` that is free now and was not handed out before.

    Ports are picked outside the kernel's ephemeral range when possible, so that the
    many client connections of the suite never grab a port between this call and the
    moment znetd binds it.
    """
    low, high = _ephemeral_range()
    candidates = range(15000, low) if low > 16000 else range(1024, 65535)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    rng = random.Random()
    for _ in range(1000):
        port = rng.choice(candidates)
        with _PORT_LOCK:
            if port in _PORTS_HANDED_OUT:
                continue
        probe = socket.socket(family, socket.SOCK_STREAM)
        try:
            probe.bind((host, port))
        except OSError:
            continue
        finally:
            probe.close()
        with _PORT_LOCK:
            if port in _PORTS_HANDED_OUT:
                continue
            _PORTS_HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port found on {host}")


def parse_address(addr):
    """Turn ``"127.0.0.1:P"``, ``"[::1]:P"``, ``"unix:/path"`` (or a tuple) into
    ``(family, sockaddr)`` for socket.connect()."""
    if isinstance(addr, tuple):
        host, port = addr
        return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, int(port))
    if addr.startswith("unix:"):
        path = addr[len("unix:"):]
        if path.startswith("@"):
            path = "\0" + path[1:]
        return socket.AF_UNIX, path
    match = re.fullmatch(r"\[([^\]]+)\]:(\d+)", addr)
    if match:
        return socket.AF_INET6, (match.group(1), int(match.group(2)))
    host, _, port = addr.rpartition(":")
    return socket.AF_INET, (host or "127.0.0.1", int(port))


def format_address(family, host, port):
    """The znetd spelling of an inet address."""
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


def connect(addr, timeout=5.0):
    """A connected socket to ``addr`` with ``timeout`` set for every later operation."""
    family, sockaddr = parse_address(addr)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def connection_refused(addr, timeout=1.0):
    """True if connecting to ``addr`` is actively refused (nothing listens there)."""
    try:
        sock = connect(addr, timeout=timeout)
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    except OSError:
        return False
    sock.close()
    return False


def recv_exact(sock, n):
    """Read exactly ``n`` bytes; AssertionError on a premature EOF."""
    chunks = []
    remaining = n
    while remaining:
        data = sock.recv(min(remaining, 256 * KiB))
        if not data:
            got = n - remaining
            raise AssertionError(f"EOF after {got} of {n} expected bytes")
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


def recv_line(sock, limit=4096):
    """Read up to and including the first newline (byte by byte; for short greetings)."""
    out = bytearray()
    while len(out) < limit:
        b = sock.recv(1)
        if not b:
            break
        out += b
        if b == b"\n":
            break
    return bytes(out)


def recv_to_eof(sock, progress=None):
    """Read until EOF; return ``(byte_count, sha256_hex)``.

    ``progress``, if given, is a one-element list updated with the running count so
    another thread can watch a transfer in flight.
    """
    digest = hashlib.sha256()
    count = 0
    buf = bytearray(256 * KiB)
    view = memoryview(buf)
    while True:
        n = sock.recv_into(buf)
        if not n:
            break
        digest.update(view[:n])
        count += n
        if progress is not None:
            progress[0] = count
    return count, digest.hexdigest()


def graceful_close(sock, timeout=10.0):
    """Half-close our side, read the peer to EOF, close.

    Closing a socket with unread input makes the kernel send RST, which can destroy
    data still in flight towards the peer; this avoids that.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(timeout)
        while sock.recv(64 * KiB):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def wait_closed(sock, timeout):
    """Wait until the peer closes ``sock``: return ``"eof"`` or ``"reset"``.

    Any data received meanwhile is discarded.  AssertionError if still open after
    ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"connection still open after {timeout}s")
        sock.settimeout(remaining)
        try:
            data = sock.recv(64 * KiB)
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout}s") from None
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        if not data:
            return "eof"


def echo_round_trip(addr, payload, timeout=5.0):
    """Connect, send ``payload``, read as many bytes back, close; return them."""
    with connect(addr, timeout=timeout) as sock:
        sock.sendall(payload)
        return recv_exact(sock, len(payload))


# --------------------------------------------------------------------------------------
# Deterministic data
# --------------------------------------------------------------------------------------

#: Period of the test pattern: a prime close to 1 MiB, so a chunk that is lost,
#: duplicated or reordered (at any power-of-two granularity) changes the digest.
PATTERN_PERIOD = 1_048_573
_PATTERN_MAX_CHUNK = 256 * KiB


@functools.lru_cache(maxsize=8)
def _pattern_block(seed):
    block = random.Random(seed).randbytes(PATTERN_PERIOD)
    return block + block[:_PATTERN_MAX_CHUNK]


def pattern_chunks(seed, total, chunk=_PATTERN_MAX_CHUNK):
    """Memoryviews that together are the first ``total`` bytes of pattern ``seed``."""
    chunk = max(1, min(chunk, _PATTERN_MAX_CHUNK))
    view = memoryview(_pattern_block(seed))
    offset = 0
    while offset < total:
        n = min(chunk, total - offset)
        start = offset % PATTERN_PERIOD
        yield view[start:start + n]
        offset += n


def pattern_bytes(seed, total):
    """The first ``total`` bytes of pattern ``seed`` as bytes."""
    return b"".join(bytes(c) for c in pattern_chunks(seed, total))


@functools.lru_cache(maxsize=32)
def pattern_digest(seed, total):
    """sha256 hex digest of the first ``total`` bytes of pattern ``seed``."""
    digest = hashlib.sha256()
    for c in pattern_chunks(seed, total):
        digest.update(c)
    return digest.hexdigest()


def send_pattern(sock, seed, total, chunk=_PATTERN_MAX_CHUNK, duration=None, progress=None):
    """Send ``total`` bytes of pattern ``seed``; return the sha256 of what was sent.

    With ``duration`` the send is paced to last about that many seconds (a slow
    transfer that stays in flight while the test does something else).
    """
    digest = hashlib.sha256()
    start = time.monotonic()
    sent = 0
    for c in pattern_chunks(seed, total, chunk):
        if duration:
            due = start + duration * sent / total
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sock.sendall(c)
        digest.update(c)
        sent += len(c)
        if progress is not None:
            progress[0] = sent
    return digest.hexdigest()


class Transfer(threading.Thread):
    """Runs a client-side transfer in a thread and keeps its outcome.

    ``fn(progress)`` does the work and returns a result; ``progress`` is a one-element
    list the function updates so the test can wait until the transfer is in flight.
    """

    def __init__(self, fn, name="transfer"):
        super().__init__(name=name, daemon=True)
        self._fn = fn
        self.progress = [0]
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self._fn(self.progress)
        except BaseException as exc:  # reported by outcome()
            self.error = exc

    def wait_progress(self, nbytes, timeout=10.0):
        """Wait until at least ``nbytes`` moved (and the transfer is still running)."""
        wait_until(
            lambda: self.progress[0] >= nbytes or not self.is_alive(),
            timeout,
            message=f"{self.name}: {nbytes} bytes in flight",
        )
        assert self.is_alive(), (
            f"{self.name} finished before the test could act on it "
            f"(error: {self.error!r}, result: {self.result!r})"
        )

    def outcome(self, timeout=60.0):
        """Join and return the result; re-raise the thread's exception."""
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"{self.name} still running after {timeout}s")
        if self.error is not None:
            raise AssertionError(f"{self.name} failed: {self.error!r}") from self.error
        return self.result


def download(addr, timeout=20.0):
    """A Transfer that connects to ``addr`` and reads to EOF: result (count, sha256)."""

    def run(progress):
        with connect(addr, timeout=timeout) as sock:
            return recv_to_eof(sock, progress)

    return Transfer(run, name=f"download from {addr}")


# --------------------------------------------------------------------------------------
# /proc inspection
# --------------------------------------------------------------------------------------


def fd_targets(pid):
    """``{fd: readlink target}`` of the open descriptors of ``pid``."""
    out = {}
    base = f"/proc/{pid}/fd"
    for name in os.listdir(base):
        try:
            out[int(name)] = os.readlink(f"{base}/{name}")
        except OSError:
            pass
    return out


def fd_count(pid):
    """Number of open descriptors of ``pid``."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def socket_inodes(pid):
    """Inodes of the sockets ``pid`` holds."""
    inodes = set()
    for target in fd_targets(pid).values():
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def _decode_proc_ip(hexaddr):
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def _tcp_sockets_of(pid, state, inodes):
    """``(proto, fields)`` of /proc/PID/net/tcp{,6} lines in ``state`` (hex, e.g. "0A" for
    LISTEN, "01" for ESTABLISHED) whose inode is in ``inodes``."""
    for proto in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 10 and fields[3] == state and int(fields[9]) in inodes:
                yield proto, fields


def listening_sockets(pid):
    """Listening sockets held by ``pid``: ``[(addr, fd_inode)]``.

    ``addr`` is ``"ip:port"`` / ``"[ip6]:port"`` for TCP and ``"unix:/path"`` for
    AF_UNIX; read from /proc/PID/net so the process's network namespace is used.
    """
    mine = socket_inodes(pid)
    found = []
    for proto, fields in _tcp_sockets_of(pid, "0A", mine):  # 0A = TCP_LISTEN
        hexip, hexport = fields[1].split(":")
        ip = _decode_proc_ip(hexip)
        family = socket.AF_INET6 if proto == "tcp6" else socket.AF_INET
        found.append((format_address(family, ip, int(hexport, 16)), int(fields[9])))
    try:
        lines = Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        # Num RefCount Protocol Flags Type St Inode [Path]; Flags 00010000 = listening
        if len(fields) < 8 or int(fields[3], 16) & 0x10000 == 0:
            continue
        inode = int(fields[6])
        if inode in mine:
            found.append((f"unix:{fields[7]}", inode))
    return found


def is_listening(pid, addr):
    """True if ``pid`` holds a listening socket for ``addr`` (wildcard binds count)."""
    want_family, want = parse_address(addr)
    for have, _inode in listening_sockets(pid):
        if want_family == socket.AF_UNIX:
            if have == f"unix:{want.replace(chr(0), '@')}":
                return True
            continue
        if have.startswith("unix:"):
            continue
        family, (host, port) = parse_address(have)
        if port != want[1]:
            continue
        if host in (want[0], "0.0.0.0", "::", f"::ffff:{want[0]}"):
            return True
    return False


# --------------------------------------------------------------------------------------
# sd_notify listener
# --------------------------------------------------------------------------------------

NotifyMessage = collections.namedtuple("NotifyMessage", "time pid line")


class NotifyListener:
    """An AF_UNIX datagram socket standing in for systemd's notification socket.

    Collects every ``KEY=VALUE`` line received (with arrival time and, via
    SO_PASSCRED, the sender's pid) in a background thread.
    """

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 * MiB)
        self.sock.settimeout(0.2)
        self.messages = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def _run(self):
        cred_size = struct.calcsize("iII")
        ancsize = socket.CMSG_SPACE(cred_size) + socket.CMSG_SPACE(16 * 4)
        while not self._stop.is_set():
            try:
                data, ancdata, _flags, _addr = self.sock.recvmsg(65536, ancsize)
            except socket.timeout:
                continue
            except OSError:
                break
            pid = None
            for level, kind, cdata in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", cdata[:cred_size])[0]
                elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for i in range(len(cdata) // 4):
                        os.close(struct.unpack_from("i", cdata, i * 4)[0])
            now = time.monotonic()
            with self._cond:
                for line in data.decode("utf-8", "replace").split("\n"):
                    if line:
                        self.messages.append(NotifyMessage(now, pid, line))
                self._cond.notify_all()

    def mark(self):
        """Index of the next message; pass as ``start`` to look only at later ones."""
        with self._cond:
            return len(self.messages)

    def lines(self, start=0):
        with self._cond:
            return [m.line for m in self.messages[start:]]

    def count(self, line, start=0):
        return sum(1 for l in self.lines(start) if l == line)

    def _wait(self, match, what, timeout, start):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self.messages)):
                    if match(self.messages[i].line):
                        return i
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {what} notification within {timeout}s; received after "
                        f"#{start}: {[m.line for m in self.messages[start:]]}"
                    )
                self._cond.wait(remaining)

    def wait_for(self, line, timeout=5.0, start=0):
        """Index of the first message equal to ``line`` at or after ``start``."""
        return self._wait(lambda l: l == line, repr(line), timeout, start)

    def wait_for_prefix(self, prefix, timeout=5.0, start=0):
        """Index of the first message starting with ``prefix`` at or after ``start``."""
        return self._wait(lambda l: l.startswith(prefix), f"{prefix}...", timeout, start)

    def message(self, index):
        with self._cond:
            return self.messages[index]

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


# --------------------------------------------------------------------------------------
# The daemon under test
# --------------------------------------------------------------------------------------


class Znetd:
    """One znetd process (possibly behind systemd-socket-activate or a wrapper).

    stdout and stderr go to files in the test's tmp_path.  The process runs in its
    own session/process group, which :meth:`kill` SIGKILLs.
    """

    def __init__(self, binary, workdir, sockdir, index):
        self.binary = Path(binary)
        self.workdir = Path(workdir)
        self.sockdir = Path(sockdir)
        self.tag = f"znetd{index}"
        self.stderr_path = self.workdir / f"{self.tag}.stderr"
        self.stdout_path = self.workdir / f"{self.tag}.stdout"
        self.config_path = self.workdir / f"{self.tag}.yaml"
        self.notify = None
        self.proc = None
        self.argv = None
        self.env = None

    # -- configuration -------------------------------------------------------------

    def write_config(self, text):
        """(Re)write this instance's config file (dedented); return its path."""
        self.config_path.write_text(dedent(text))
        return self.config_path

    # -- lifecycle -----------------------------------------------------------------

    def start(
        self,
        config=None,
        args=(),
        env=None,
        notify=True,
        activate=None,
        wrap=None,
        journal_stream=False,
        ready=None,
        ready_timeout=15.0,
        subcommand="run",
    ):
        """Start the daemon.

        config: YAML text written to ``self.config_path`` and passed as ``--config``.
        args: more arguments after ``run`` (e.g. ``["--proxy", "A B"]``).
        env: environment overrides (``None`` values remove a variable).
        notify: bind a :class:`NotifyListener` and pass it as ``$NOTIFY_SOCKET``.
        activate: ``[(address, fdname or None), ...]``: run under
            ``systemd-socket-activate`` which listens on them; the first address is
            connected to once (systemd-socket-activate execs the daemon only on the
            first connection) and this waits until the exec happened.
        wrap: argv prefix (e.g. ``["unshare", "--mount", ...]``); must exec the daemon.
        journal_stream: set ``$JOURNAL_STREAM`` to dev:ino of the stderr file.
        ready: addresses to wait for until the daemon listens on all of them.
        """
        argv = [str(self.binary)]
        if subcommand:
            argv.append(subcommand)
        if config is not None:
            self.write_config(config)
            argv += ["--config", str(self.config_path)]
        argv += [str(a) for a in args]

        overrides = dict(env or {})
        if notify:
            self.notify = NotifyListener(self.sockdir / f"{self.tag}.notify")
            overrides["NOTIFY_SOCKET"] = self.notify.path

        stderr_file = open(self.stderr_path, "wb")
        stdout_file = open(self.stdout_path, "wb")
        if journal_stream:
            st = os.fstat(stderr_file.fileno())
            overrides["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"

        if activate:
            wrapper = ["systemd-socket-activate"]
            for address, _name in activate:
                wrapper += ["-l", address[len("unix:"):] if address.startswith("unix:") else address]
            names = [name for _addr, name in activate]
            if any(names):
                wrapper.append("--fdname=" + ":".join(n or "unknown" for n in names))
            # systemd-socket-activate passes only -E variables (and PATH, HOME, ...).
            for key, value in overrides.items():
                if value is not None:
                    wrapper += ["-E", f"{key}={value}"]
            argv = wrapper + argv
        if wrap:
            argv = [str(a) for a in wrap] + argv

        self.argv = argv
        self.env = clean_env(overrides)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout_file,
                stderr=stderr_file,
                env=self.env,
                cwd=str(self.workdir),
                start_new_session=True,
            )
        finally:
            stderr_file.close()
            stdout_file.close()

        if activate:
            self._trigger_activation(activate[0][0])
        if ready:
            self.wait_listening(ready, timeout=ready_timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self):
        return self.proc.poll()

    def _exe(self):
        try:
            return os.path.realpath(os.readlink(f"/proc/{self.pid}/exe"))
        except OSError:
            return None

    def _runs_znetd(self):
        """True once the process image is znetd (or an interpreter running it)."""
        want = os.path.realpath(self.binary)
        if self._exe() == want:
            return True
        try:
            argv = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return any(os.path.realpath(a.decode(errors="replace")) == want for a in argv[:2] if a)

    def wait_exec(self, timeout=10.0):
        """Wait until the process image is the znetd binary (after wrapper execs)."""
        wait_until(
            lambda: not self.alive() or self._runs_znetd(),
            timeout,
            message=f"exec of {self.binary} (current: {self._exe()})",
        )

    def _trigger_activation(self, address, timeout=10.0):
        """Connect once to make systemd-socket-activate exec the daemon."""
        wait_until(
            lambda: not self.alive() or self._exe() is not None,
            timeout,
            message="systemd-socket-activate to start",
        )
        # systemd-socket-activate binds and listens before it waits: retry briefly.
        poke = wait_until(
            lambda: self._try_connect(address) or (not self.alive() and "exited"),
            timeout,
            message=f"{address} to accept",
        )
        try:
            self.wait_exec(timeout)
        finally:
            if isinstance(poke, socket.socket):
                poke.close()

    @staticmethod
    def _try_connect(address):
        try:
            return connect(address, timeout=2.0)
        except OSError:
            return None

    def wait_listening(self, addrs, timeout=15.0):
        """Wait until the daemon holds a listening socket for each of ``addrs``."""
        addrs = list(addrs)
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise AssertionError(
                    f"znetd exited with status {self.returncode} before listening on "
                    f"{addrs}\n{self.diagnostics()}"
                )
            missing = [a for a in addrs if not is_listening(self.pid, a)]
            if not missing:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"znetd not listening on {missing} after {timeout}s\n{self.diagnostics()}"
                )
            time.sleep(0.05)

    def wait_not_listening(self, addr, timeout=5.0):
        """Wait until the daemon no longer listens on ``addr`` and connects are refused."""
        wait_until(
            lambda: (not self.alive() or not is_listening(self.pid, addr))
            and connection_refused(addr),
            timeout,
            message=f"{addr} to stop accepting",
        )

    def wait_ready(self, timeout=10.0):
        """Wait for READY=1 on the notification socket; return its message index."""
        assert self.notify is not None, "started without notify=True"
        try:
            return self.notify.wait_for("READY=1", timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnostics()}") from None

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=10.0):
        """Wait for the process to end; return its exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"znetd still running {timeout}s later\n{self.diagnostics()}"
            ) from None

    def kill(self):
        """SIGKILL the whole process group (idempotent) and release the listener."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.notify is not None:
            self.notify.close()

    # -- observation ---------------------------------------------------------------

    def stderr_text(self):
        try:
            return self.stderr_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self):
        try:
            return self.stdout_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_mark(self):
        """Current length of stderr; pass as ``since`` to search only later output."""
        return len(self.stderr_text())

    def wait_stderr(self, pattern, timeout=5.0, since=0, flags=re.IGNORECASE | re.MULTILINE):
        """Wait until stderr (from offset ``since``) matches ``pattern``; return the match."""
        regex = re.compile(pattern, flags)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.stderr_text()[since:])
            if match:
                return match
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"stderr never matched /{pattern}/ within {timeout}s\n{self.diagnostics()}"
                )
            time.sleep(0.05)

    def fd_count(self):
        return fd_count(self.pid)

    def fd_targets(self):
        return fd_targets(self.pid)

    def diagnostics(self, tail=4000):
        stderr = self.stderr_text()
        if len(stderr) > tail:
            stderr = "...\n" + stderr[-tail:]
        rc = self.proc.poll() if self.proc else None
        return f"argv: {self.argv}\nexit status: {rc}\n--- stderr ---\n{stderr}--- end ---"


# --------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------


def _listener(host="127.0.0.1", unix_path=None, backlog=1024):
    if unix_path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(unix_path))
        addr = f"unix:{unix_path}"
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        addr = format_address(family, host, sock.getsockname()[1])
    sock.listen(backlog)
    return sock, addr


class ThreadedServer:
    """A loopback server handling each connection in its own thread.

    Subclasses implement :meth:`handle` and call :meth:`record` with what they saw;
    tests read ``results`` (or :meth:`wait_results`), ``accepted`` and ``errors``.
    """

    conn_timeout = 30.0

    def __init__(self, host="127.0.0.1", unix_path=None):
        self.sock, self.addr = _listener(host, unix_path)
        self.port = None if unix_path else self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.accepted = 0
        self.results = []
        self.errors = []
        self._cond = threading.Condition()
        self._conns = set()
        self._threads = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"{type(self).__name__} {self.addr}", daemon=True
        )
        self._thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                time.sleep(0.01)
                continue
            conn.settimeout(self.conn_timeout)
            with self._cond:
                self.accepted += 1
                self._conns.add(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn):
        try:
            self.handle(conn)
        except Exception as exc:  # recorded for assertions
            with self._cond:
                self.errors.append(repr(exc))
                self._cond.notify_all()
        finally:
            with self._cond:
                self._conns.discard(conn)
                self._cond.notify_all()
            conn.close()

    def handle(self, conn):
        raise NotImplementedError

    def record(self, **result):
        with self._cond:
            self.results.append(result)
            self._cond.notify_all()

    def wait_results(self, n=1, timeout=10.0):
        """Wait until ``n`` connections were fully handled; return all results."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.results) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{type(self).__name__}: {len(self.results)} of {n} connections "
                        f"finished after {timeout}s (accepted {self.accepted}, "
                        f"errors {self.errors})"
                    )
                self._cond.wait(remaining)
            return list(self.results)

    def stop(self):
        self._stop.set()
        self.sock.close()
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(2)
        for thread in self._threads:
            thread.join(2)


class EchoServer:
    """Echoes every byte back; optionally sends a greeting line first.

    One selector thread serves any number of connections.  Half-close aware: on EOF
    from the peer it flushes what is pending, then closes.  Counts ``accepted``,
    ``active`` and ``peak_active`` connections.
    """

    def __init__(self, host="127.0.0.1", greeting=b"", unix_path=None):
        self.sock, self.addr = _listener(host, unix_path, backlog=4096)
        self.port = None if unix_path else self.sock.getsockname()[1]
        self.sock.setblocking(False)
        self.greeting = greeting
        self.accepted = 0
        self.active = 0
        self.peak_active = 0
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name=f"echo {self.addr}", daemon=True)
        self._thread.start()

    def _run(self):
        sel = self._sel
        sel.register(self.sock, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        state = {}
        try:
            while not self._stop.is_set():
                for key, mask in sel.select(timeout=0.2):
                    if key.data == "accept":
                        self._accept_all(sel, state)
                    elif key.data == "wake":
                        continue
                    else:
                        self._service(sel, state, key.fileobj, mask)
        finally:
            for conn in list(state):
                conn.close()
            sel.close()

    def _accept_all(self, sel, state):
        while True:
            try:
                conn, _peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            conn.setblocking(False)
            self.accepted += 1
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
            state[conn] = {"out": bytearray(self.greeting), "eof": False}
            self._update(sel, state, conn, new=True)

    def _update(self, sel, state, conn, new=False):
        st = state[conn]
        events = 0
        if not st["eof"] and len(st["out"]) < 4 * MiB:
            events |= selectors.EVENT_READ
        if st["out"]:
            events |= selectors.EVENT_WRITE
        if st["eof"] and not st["out"]:
            self._close(sel, state, conn, graceful=True)
            return
        if new:
            sel.register(conn, events, "conn")
        elif events:
            sel.modify(conn, events, "conn")

    def _close(self, sel, state, conn, graceful):
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        if graceful:
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        conn.close()
        del state[conn]
        self.active -= 1

    def _service(self, sel, state, conn, mask):
        st = state[conn]
        if mask & selectors.EVENT_READ:
            try:
                data = conn.recv(256 * KiB)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self._close(sel, state, conn, graceful=False)
                return
            if data == b"":
                st["eof"] = True
            elif data:
                st["out"] += data
        if mask & selectors.EVENT_WRITE and st["out"]:
            try:
                n = conn.send(st["out"])
                del st["out"][:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._close(sel, state, conn, graceful=False)
                return
        self._update(sel, state, conn)

    def stop(self):
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(5)
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()


class SinkServer(ThreadedServer):
    """Reads each connection to EOF; records ``received`` and ``sha256``.

    With ``reply_digest`` it then answers ``b"<count> <sha256>\\n"``.
    """

    def __init__(self, reply_digest=False, **kw):
        self.reply_digest = reply_digest
        super().__init__(**kw)

    def handle(self, conn):
        count, digest = recv_to_eof(conn)
        self.record(received=count, sha256=digest)
        if self.reply_digest:
            conn.sendall(f"{count} {digest}\n".encode())
        graceful_close(conn)


class SourceServer(ThreadedServer):
    """Sends ``nbytes`` of pattern ``seed`` on each connection, then closes.

    ``duration`` paces the send over about that many seconds.
    """

    def __init__(self, nbytes, seed=1, duration=None, chunk=256 * KiB, **kw):
        self.nbytes = nbytes
        self.seed = seed
        self.duration = duration
        self.chunk = chunk
        super().__init__(**kw)

    def handle(self, conn):
        digest = send_pattern(conn, self.seed, self.nbytes, self.chunk, self.duration)
        self.record(sent=self.nbytes, sha256=digest)
        graceful_close(conn)


class SlowServer(SourceServer):
    """A SourceServer whose transfer lasts about ``duration`` seconds."""

    def __init__(self, nbytes, duration, seed=1, chunk=64 * KiB, **kw):
        super().__init__(nbytes, seed=seed, duration=duration, chunk=chunk, **kw)


class ReplyAfterEOFServer(ThreadedServer):
    """Reads the request to EOF (the client's SHUT_WR), then sends ``reply_bytes``.

    Records ``received``, ``sha256`` of the request and ``saw_eof``.
    """

    def __init__(self, reply_bytes, seed=7, **kw):
        self.reply_bytes = reply_bytes
        self.seed = seed
        super().__init__(**kw)

    def handle(self, conn):
        count, digest = recv_to_eof(conn)
        self.record(received=count, sha256=digest, saw_eof=True)
        send_pattern(conn, self.seed, self.reply_bytes)
        graceful_close(conn)


class DuplexServer(ThreadedServer):
    """Sends ``nbytes`` of pattern ``seed`` and reads the peer to EOF.

    By default both at once (full duplex); with ``send_first`` it sends everything,
    half-closes, and only then reads.  Records ``received``, ``sha256`` (of what it
    read) and ``sent_sha256``.
    """

    def __init__(self, nbytes, seed=2, send_first=False, **kw):
        self.nbytes = nbytes
        self.seed = seed
        self.send_first = send_first
        super().__init__(**kw)

    def handle(self, conn):
        if self.send_first:
            sent = send_pattern(conn, self.seed, self.nbytes)
            conn.shutdown(socket.SHUT_WR)
            count, digest = recv_to_eof(conn)
        else:
            outcome = {}

            def sender():
                try:
                    outcome["sent"] = send_pattern(conn, self.seed, self.nbytes)
                    conn.shutdown(socket.SHUT_WR)
                except OSError as exc:
                    outcome["error"] = exc

            thread = threading.Thread(target=sender, daemon=True)
            thread.start()
            count, digest = recv_to_eof(conn)
            thread.join(self.conn_timeout)
            if "error" in outcome:
                raise outcome["error"]
            sent = outcome.get("sent")
        self.record(received=count, sha256=digest, sent_sha256=sent)


class BlackholeTarget:
    """A loopback address whose SYNs are silently dropped.

    A socket listening with backlog 0 whose accept queue is filled by connections
    that are never accepted: the kernel drops further SYNs, so a connect() to it
    neither succeeds nor is refused.
    """

    def __init__(self, host="127.0.0.1", fill=4):
        self.sock, self.addr = _listener(host, backlog=0)
        self.port = self.sock.getsockname()[1]
        self._fillers = []
        family, sockaddr = parse_address(self.addr)
        for _ in range(fill):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(sockaddr)
            self._fillers.append(s)
        time.sleep(0.2)

    def verify(self):
        """True if a fresh connect() indeed hangs (neither accepted nor refused)."""
        try:
            probe = connect(self.addr, timeout=0.5)
        except socket.timeout:
            return True
        except OSError:
            return False
        probe.close()
        return False

    def stop(self):
        for s in self._fillers:
            s.close()
        self.sock.close()


class Backends:
    """Factory for backends; everything made is stopped at teardown."""

    def __init__(self, sock_dir):
        self._sock_dir = Path(sock_dir)
        self._made = []
        self._n = 0

    def _unix_path(self):
        self._n += 1
        return self._sock_dir / f"backend{self._n}.sock"

    def _track(self, server):
        self._made.append(server)
        return server

    def _where(self, host, unix):
        return {"unix_path": self._unix_path()} if unix else {"host": host}

    def echo(self, greeting=b"", host="127.0.0.1", unix=False):
        if isinstance(greeting, str):
            greeting = greeting.encode()
        return self._track(EchoServer(greeting=greeting, **self._where(host, unix)))

    def sink(self, reply_digest=False, host="127.0.0.1", unix=False):
        return self._track(SinkServer(reply_digest=reply_digest, **self._where(host, unix)))

    def source(self, nbytes, seed=1, duration=None, host="127.0.0.1"):
        return self._track(SourceServer(nbytes, seed=seed, duration=duration, host=host))

    def slow(self, nbytes, duration, seed=1, host="127.0.0.1"):
        return self._track(SlowServer(nbytes, duration, seed=seed, host=host))

    def reply_after_eof(self, reply_bytes, seed=7, host="127.0.0.1"):
        return self._track(ReplyAfterEOFServer(reply_bytes, seed=seed, host=host))

    def duplex(self, nbytes, seed=2, send_first=False, host="127.0.0.1"):
        return self._track(DuplexServer(nbytes, seed=seed, send_first=send_first, host=host))

    def blackhole(self, host="127.0.0.1"):
        target = self._track(BlackholeTarget(host))
        if not target.verify():
            pytest.skip("cannot build a loopback blackhole: the kernel answered a SYN "
                        "beyond a full listen backlog")
        return target

    def stop_all(self):
        for server in reversed(self._made):
            try:
                server.stop()
            except Exception:
                pass


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def znetd_bin():
    """Path of the znetd binary; skips the whole suite if it is not built."""
    path = Path(os.environ.get("ZNETD_BIN") or DEFAULT_BIN)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.skip(
            f"znetd binary not found at {path}: build it with `swift build -c release` "
            f"in the repository or set $ZNETD_BIN"
        )
    return path


@pytest.fixture(autouse=True)
def _require_znetd(znetd_bin):
    """Every test in this directory needs the binary."""


@pytest.fixture
def sock_dir():
    """A short-named temporary directory for AF_UNIX sockets (sun_path is 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="znetd-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_znetd(znetd_bin, tmp_path, sock_dir):
    """Factory: ``start_znetd(**kwargs)`` -> a started :class:`Znetd`.

    See :meth:`Znetd.start` for the arguments.  Every instance is SIGKILLed at
    teardown, whatever the outcome of the test; its stderr tail is printed then
    (visible in pytest's report of a failing test).
    """
    instances = []

    def start(**kwargs):
        daemon = Znetd(znetd_bin, tmp_path, sock_dir, len(instances))
        instances.append(daemon)
        return daemon.start(**kwargs)

    yield start
    for daemon in instances:
        daemon.kill()
        print(f"\n=== {daemon.tag} ===\n{daemon.diagnostics()}")


@pytest.fixture
def backends(sock_dir):
    """Factory of loopback backends (see :class:`Backends`), stopped at teardown."""
    made = Backends(sock_dir)
    yield made
    made.stop_all()


@pytest.fixture
def run_cli(znetd_bin, tmp_path):
    """``run_cli(*args, timeout=20)`` runs ``znetd ARGS`` to completion.

    Returns a CompletedProcess with text stdout/stderr.
    """

    def run(*args, timeout=20, env=None):
        return subprocess.run(
            [str(znetd_bin)] + [str(a) for a in args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=clean_env(env),
            cwd=str(tmp_path),
            start_new_session=True,
        )

    return run


@pytest.fixture
def write_file(tmp_path):
    """``write_file(relpath, text)`` writes dedented text under tmp_path; returns the path."""

    def write(relpath, text):
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
        return path

    return write


# --------------------------------------------------------------------------------------
# On-demand backends (test_on_demand*.py)
# --------------------------------------------------------------------------------------

import json as _json  # noqa: E402  (used only by the on-demand helpers below)

#: The configurable test backend (see its docstring for options and the event log).
ONDEMAND_BACKEND = HERE / "ondemand" / "backend.py"

#: One line of a backend's event log: ``kind pid args... t=MONOTONIC``.
BackendEvent = collections.namedtuple("BackendEvent", "kind pid args time")


class BackendLog:
    """The event log an ``ondemand/backend.py`` process appends to (``--log``).

    Several processes (one per wake-up) append to the same file; lines are in the
    order the events happened.  ``time`` is the backend's ``time.monotonic()``,
    comparable with the test's own.
    """

    def __init__(self, path):
        self.path = Path(path)

    def text(self):
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return ""

    def events(self, kind=None, pid=None):
        out = []
        for line in self.text().splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # being written
            parts = line.split()
            if len(parts) < 2:
                continue
            stamp = None
            if parts[-1].startswith("t="):
                stamp = float(parts.pop()[2:])
            event = BackendEvent(parts[0], int(parts[1]), parts[2:], stamp)
            if (kind is None or event.kind == kind) and (pid is None or event.pid == pid):
                out.append(event)
        return out

    def count(self, kind, pid=None):
        return len(self.events(kind, pid))

    def pids(self, kind="start"):
        """Pids with a ``kind`` event, in order (default: every process started)."""
        return [e.pid for e in self.events(kind)]

    def index(self, kind, pid=None):
        """Position of the first ``kind`` event (of ``pid``) among all events; None if absent."""
        for i, event in enumerate(self.events()):
            if event.kind == kind and (pid is None or event.pid == pid):
                return i
        return None

    def wait_for(self, kind, pid=None, count=1, timeout=5.0):
        """Wait until there are ``count`` ``kind`` events (of ``pid``); return the last of them."""
        def found():
            events = self.events(kind, pid)
            return events[count - 1] if len(events) >= count else None
        try:
            return wait_until(found, timeout, interval=0.01,
                              message=f"{count} '{kind}' event(s) of pid {pid} in {self.path.name}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.path.name} ---\n{self.text()}") from None


class OnDemandBackend:
    """An ``ondemand/backend.py`` command line for one service: ``argv``, ``port``,
    ``addr`` (its target address) and ``log`` (a :class:`BackendLog`)."""

    def __init__(self, argv, port, log):
        self.argv = argv
        self.port = port
        self.addr = f"127.0.0.1:{port}"
        self.log = log


class OnDemandKit:
    """Builds backend command lines and cleans up after them.

    Backends started by znetd run in their own process group and session, so killing
    znetd's group at teardown does not reach them: :meth:`cleanup` SIGKILLs every
    process whose command line names this test's directory, the grandchildren the
    logs mention, and the processes :meth:`spawn` started.
    """

    def __init__(self, tmp_path):
        self.dir = Path(tmp_path)
        self._logs = []
        self._spawned = []
        self._n = 0

    def backend(self, *options, port=None, name=None):
        """Command line of a backend listening on ``port`` (a fresh one by default)."""
        self._n += 1
        port = port or free_port()
        log = BackendLog(self.dir / f"{name or 'backend%d' % self._n}.events")
        self._logs.append(log)
        argv = ["python3", str(ONDEMAND_BACKEND), "--port", str(port), "--log", str(log.path)]
        argv += [str(o) for o in options]
        return OnDemandBackend(argv, port, log)

    def script(self, name, text, mode=0o755):
        """Write an executable script (dedented) into the test directory; return its path."""
        path = self.dir / name
        path.write_text(dedent(text))
        path.chmod(mode)
        return path

    def spawn(self, argv):
        """Start a process outside znetd (killed at cleanup); stdout/stderr to a file."""
        out = open(self.dir / f"spawned{len(self._spawned)}.out", "wb")
        try:
            proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, env=clean_env(),
                                    start_new_session=True)
        finally:
            out.close()
        self._spawned.append(proc)
        return proc

    def cleanup(self):
        victims = set(processes_with_arg(str(self.dir)))
        for log in self._logs:
            for event in log.events("grandchild"):
                pid = int(event.args[0])
                if _cmdline(pid)[:1] == ["sleep"]:
                    victims.add(pid)
        victims.discard(os.getpid())
        own_group = os.getpgrp()
        for pid in victims:
            try:
                if os.getpgid(pid) == pid and pid != own_group:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for proc in self._spawned:
            try:
                proc.kill()
                proc.wait(5)
            except Exception:
                pass


@pytest.fixture
def on_demand(tmp_path):
    """An :class:`OnDemandKit` for this test; its backends are killed at teardown."""
    kit = OnDemandKit(tmp_path)
    yield kit
    kit.cleanup()


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return _json.dumps(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        return text
    return _json.dumps(text)


def on_demand_config(services, **top):
    """YAML for ``{name: {key: value}}`` services (plus top-level ``top`` keys).

    Lists and mappings are written as JSON flow collections; other strings are
    quoted when they are not a bare word (``1s``, ``TERM``, ``tcp``).
    """
    lines = [f"{key}: {_yaml_scalar(value)}" for key, value in top.items()]
    lines.append("services:")
    for name, keys in services.items():
        lines.append(f"  {name}:")
        lines += [f"    {key}: {_yaml_scalar(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def ask(sock, text):
    """Send one line on an open connection to a backend.py; return ``(pid, echoed)``."""
    sock.sendall(text.encode() + b"\n")
    reply = recv_line(sock)
    if not reply.endswith(b"\n"):
        raise AssertionError(f"no reply to {text!r} (got {reply!r} before the connection closed)")
    pid, _, echoed = reply.decode().rstrip("\n").partition(":")
    return int(pid), echoed


def ask_once(addr, text, timeout=10.0):
    """Connect, :func:`ask`, close; return ``(pid, echoed)``."""
    with connect(addr, timeout=timeout) as sock:
        return ask(sock, text)


def _cmdline(pid):
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def processes_with_arg(needle):
    """Pids of live (non-zombie) processes one of whose arguments contains ``needle``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if any(needle in arg for arg in _cmdline(pid)):
            found.append(pid)
    return found


ProcStat = collections.namedtuple("ProcStat", "state ppid pgrp session cpu_ticks")


def proc_stat(pid):
    """State, parent, process group, session and CPU ticks of ``pid``; None if gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return ProcStat(rest[0], int(rest[1]), int(rest[2]), int(rest[3]),
                    int(rest[11]) + int(rest[12]))


def cpu_seconds(pid):
    """User + system CPU time of ``pid`` so far, in seconds."""
    stat = proc_stat(pid)
    return stat.cpu_ticks / os.sysconf("SC_CLK_TCK") if stat else 0.0


def zombie_children(pid):
    """Pids of zombie processes whose parent is ``pid`` (children it has not reaped)."""
    zombies = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = proc_stat(int(name))
            if stat and stat.state == "Z" and stat.ppid == pid:
                zombies.append(int(name))
    return zombies


def process_gone(pid, reaper=None):
    """True if ``pid`` no longer runs: absent, or a zombie that ``reaper`` (the pid
    responsible for reaping it, e.g. znetd) is not the parent of."""
    stat = proc_stat(pid)
    if stat is None:
        return True
    return stat.state in ("Z", "X") and (reaper is None or stat.ppid != reaper)


def established_tcp(pid):
    """``[(local, remote)]`` of the ESTABLISHED TCP connections ``pid`` holds."""
    found = []
    for _proto, fields in _tcp_sockets_of(pid, "01", socket_inodes(pid)):
        ends = []
        for end in fields[1:3]:
            hexip, hexport = end.split(":")
            ends.append(f"{_decode_proc_ip(hexip)}:{int(hexport, 16)}")
        found.append(tuple(ends))
    return found


def status_lines(notify, start=0):
    """The STATUS= texts a :class:`NotifyListener` received (from index ``start``)."""
    return [l[len("STATUS="):] for l in notify.lines(start) if l.startswith("STATUS=")]


def wait_status(notify, pattern, timeout=5.0, start=0):
    """Wait for a STATUS= text matching regex ``pattern``; return it."""
    regex = re.compile(pattern)

    def found():
        return next((s for s in status_lines(notify, start) if regex.search(s)), None)

    try:
        return wait_until(found, timeout, interval=0.05, message=f"STATUS matching /{pattern}/")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; STATUS received: {status_lines(notify, start)}") from None
