"""Logging: native journal entries when stderr is the journal, ``<N>`` lines otherwise.

The journal test runs znetd in a private mount namespace where
/run/systemd/journal is a directory of the test holding an AF_UNIX datagram socket
named ``socket``: what sd_journal_sendv() writes there is parsed with the native
journal protocol and checked field by field.
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import (
    MiB,
    connect,
    echo_round_trip,
    free_port,
    pattern_bytes,
    recv_to_eof,
    wait_until,
)

#: Field names journald accepts from clients: no leading underscore, A-Z 0-9 _.
FIELD_NAME = re.compile(r"[A-Z0-9][A-Z0-9_]{0,63}")

#: Fields that only connection records carry.
CONNECTION_FIELDS = {"ZNETD_CLIENT", "ZNETD_TARGET", "ZNETD_BYTES_IN", "ZNETD_BYTES_OUT",
                     "ZNETD_DURATION_USEC"}


def parse_native_entry(data):
    """Parse one datagram of the native journal protocol into ``{FIELD: [values]}``.

    Each field is ``KEY=value\\n``, or, for values that may contain newlines,
    ``KEY\\n`` + little-endian uint64 length + value + ``\\n``.
    """
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 9
            value = data[start:start + size]
            if len(value) != size or data[start + size:start + size + 1] != b"\n":
                raise ValueError(f"malformed binary field {key!r}")
            i = start + size + 1
        fields.setdefault(key.decode("ascii", "replace"), []).append(
            value.decode("utf-8", "replace")
        )
    return fields


class JournalListener:
    """Receives native journal datagrams (including ones passed as a memfd)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * MiB)
        self.sock.settimeout(0.2)
        self.entries = []
        self.malformed = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, ancdata, _flags, _addr = self.sock.recvmsg(
                    1 * MiB, socket.CMSG_SPACE(4 * 4)
                )
            except socket.timeout:
                continue
            except OSError:
                break
            for level, kind, cdata in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for k in range(len(cdata) // 4):
                        fd = struct.unpack_from("i", cdata, k * 4)[0]
                        try:
                            os.lseek(fd, 0, os.SEEK_SET)
                            chunks = []
                            while True:
                                chunk = os.read(fd, MiB)
                                if not chunk:
                                    break
                                chunks.append(chunk)
                            data = b"".join(chunks)
                        finally:
                            os.close(fd)
            try:
                self.entries.append(parse_native_entry(data))
            except (ValueError, struct.error) as exc:
                self.malformed.append((data, exc))

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def mount_namespace_wrapper(journal_dir):
    """argv prefix running the rest in a private mount namespace whose
    /run/systemd/journal is ``journal_dir``."""
    base = "/run/systemd" if os.path.isdir("/run/systemd") else "/run"
    script = (
        f"set -e; mount -t tmpfs -o mode=0755 znetd-test {base}; "
        f"mkdir -p /run/systemd/journal; "
        f'mount --bind "$0" /run/systemd/journal; exec "$@"'
    )
    return ["unshare", "--mount", "--", "sh", "-c", script, str(journal_dir)]


@pytest.fixture
def journal(sock_dir):
    """A JournalListener on ``<dir>/socket`` and the wrapper that mounts it."""
    if os.geteuid() != 0:
        pytest.skip("the journal test needs root (mount namespace, mounts)")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    journal_dir = sock_dir / "journal"
    journal_dir.mkdir()
    wrap = mount_namespace_wrapper(journal_dir)
    probe = subprocess.run(wrap + ["test", "-d", "/run/systemd/journal"],
                           capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip(f"cannot set up a mount namespace: {probe.stderr.strip()}")
    listener = JournalListener(journal_dir / "socket")
    listener.wrap = wrap
    yield listener
    listener.close()


def test_connection_record_as_native_journal_entry(start_znetd, backends, journal):
    """With JOURNAL_STREAM matching stderr, a finished connection is logged as one
    native journal entry with MESSAGE, PRIORITY (info), SYSLOG_IDENTIFIER=znetd,
    CODE_FILE/LINE/FUNC and the ZNETD_* fields carrying the right values:
    the client's ip:port, the target, 3000 bytes in, 70000 bytes out and the
    duration in microseconds (the client kept the connection ~300 ms)."""
    request, reply = 3000, 70000
    backend = backends.reply_after_eof(reply)
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=f"""
        services:
          jsvc:
            listen: "{listen}"
            target: "{backend.addr}"
            log_connections: true
        """,
        wrap=journal.wrap,
        journal_stream=True,
        ready=[listen],
    )
    with connect(listen) as sock:
        client = "%s:%d" % sock.getsockname()[:2]
        sock.sendall(pattern_bytes(3, request))
        time.sleep(0.3)
        sock.shutdown(socket.SHUT_WR)
        count, _digest = recv_to_eof(sock)
    assert count == reply

    def connection_records():
        return [e for e in list(journal.entries)
                if CONNECTION_FIELDS & set(e) and e.get("ZNETD_SERVICE") == ["jsvc"]]

    try:
        wait_until(connection_records, 5, message="a connection record in the journal")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; entries received: {journal.entries}\n"
                             f"{daemon.diagnostics()}") from None
    time.sleep(0.3)  # a duplicate record would arrive now
    assert not journal.malformed, f"malformed journal datagrams: {journal.malformed[:3]}"
    for entry in journal.entries:
        bad = [k for k in entry if not FIELD_NAME.fullmatch(k)]
        assert not bad, f"field names journald rejects: {bad} in {entry}"
    records = connection_records()
    assert len(records) == 1, f"expected one connection record, got {records}"
    entry = {k: v[0] for k, v in records[0].items()}

    assert entry.get("MESSAGE"), entry
    assert entry.get("PRIORITY") in [str(p) for p in range(8)], entry
    assert entry["PRIORITY"] == "6", f"connection record is not at info level: {entry}"
    assert entry.get("SYSLOG_IDENTIFIER") == "znetd", entry
    assert entry.get("CODE_FILE"), entry
    assert re.fullmatch(r"\d+", entry.get("CODE_LINE", "")), entry
    assert entry.get("CODE_FUNC"), entry
    assert entry["ZNETD_SERVICE"] == "jsvc"
    assert entry.get("ZNETD_CLIENT") == client, entry
    assert entry.get("ZNETD_TARGET") == backend.addr, entry
    assert entry.get("ZNETD_BYTES_IN") == str(request), entry
    assert entry.get("ZNETD_BYTES_OUT") == str(reply), entry
    duration = int(entry.get("ZNETD_DURATION_USEC", "-1"))
    assert 250_000 <= duration <= 30_000_000, f"duration {duration} us for a ~0.3 s connection"


@pytest.mark.parametrize("journal_stream", ["unset", "not stderr"])
def test_stderr_lines_have_priority_prefix(start_znetd, backends, journal_stream):
    """When stderr is not the journal (no JOURNAL_STREAM, or one naming another
    file), every stderr line starts with a syslog priority prefix ``<0>``..``<7>``."""
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    env = {}
    if journal_stream == "not stderr":
        st = os.stat(os.devnull)
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    daemon = start_znetd(
        config=f"""
        services:
          plain:
            listen: "{listen}"
            target: "{echo.addr}"
            log_connections: true
        """,
        env=env,
        ready=[listen],
    )
    mark = daemon.stderr_mark()
    assert echo_round_trip(listen, b"log me") == b"log me"
    daemon.wait_stderr(r"\S", timeout=5, since=mark)  # the connection record
    lines = [l for l in daemon.stderr_text().splitlines() if l.strip()]
    bad = [l for l in lines if not re.match(r"<[0-7]>", l)]
    assert lines and not bad, f"stderr lines without <N> prefix: {bad[:5]}"


def test_log_level_filters_records(start_znetd, backends):
    """``--log-level warning`` drops notice/info records: the connection record
    (info) of a finished connection does not appear on stderr."""
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=f"""
        services:
          quiet:
            listen: "{listen}"
            target: "{echo.addr}"
            log_connections: true
        """,
        args=["--log-level", "warning"],
        ready=[listen],
    )
    assert echo_round_trip(listen, b"shh") == b"shh"
    wait_until(lambda: echo.accepted == 1 and echo.active == 0, 5,
               message="the connection to finish")
    time.sleep(0.5)
    chatty = [l for l in daemon.stderr_text().splitlines() if re.match(r"<[5-7]>", l)]
    assert not chatty, f"records below warning logged at --log-level warning: {chatty}"


def test_backend_transitions_carry_backend_and_reason_fields(start_znetd, journal):
    """A backend going down and up is journalled with ZNETD_BACKEND and ZNETD_REASON (warning
    for down, notice for up), so `journalctl ZNETD_BACKEND=...` follows one backend."""
    from balancing import NamedBackend

    flaky = NamedBackend("flaky")
    steady = NamedBackend("steady")
    try:
        listen = f"127.0.0.1:{free_port()}"
        start_znetd(
            config=f"""
            services:
              jbal:
                listen: "{listen}"
                targets: ["{flaky.addr}", "{steady.addr}"]
                health: {{check: tcp, interval: 200ms, rise: 1, fall: 1}}
            """,
            wrap=journal.wrap,
            journal_stream=True,
            ready=[listen],
        )

        def transitions():
            return [{k: v[0] for k, v in e.items()} for e in list(journal.entries)
                    if e.get("ZNETD_BACKEND") == [flaky.addr]]

        flaky.stop()
        wait_until(lambda: any("is down" in e["MESSAGE"] for e in transitions()), 10,
                   message="a down record in the journal")
        flaky.start()
        wait_until(lambda: any("is up" in e["MESSAGE"] for e in transitions()), 10,
                   message="an up record in the journal")
        down = next(e for e in transitions() if "is down" in e["MESSAGE"])
        up = next(e for e in transitions() if "is up" in e["MESSAGE"])
        assert down["PRIORITY"] == "4" and up["PRIORITY"] == "5", (down, up)
        assert down["ZNETD_SERVICE"] == "jbal"
        assert down["ZNETD_REASON"].startswith("health check failed: connect: "), down
        assert up["ZNETD_REASON"] == "health check passed: connect succeeded", up
    finally:
        flaky.stop()
        steady.stop()
