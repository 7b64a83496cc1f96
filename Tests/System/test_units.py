"""System tests: znetd's units under a real systemd, twice over:

* ``shipped``: units/znetd.socket + units/znetd.service copied verbatim;
* ``generated``: no unit files, only znetd-generator, which turns /etc/znetd/znetd.yaml into
  znetd-web.socket + znetd-web.service at ``systemctl daemon-reload`` (as the package installs
  it).

Each deployment gets its own sandbox (systemd 252 as PID 1, private namespaces) for the
module; every test starts from ``znetd.baseline()`` (default config, the service stopped, the
socket listening), so each one also runs alone (``-k``).  Only the watchdog test adds a
drop-in (ZNETD_DEBUG_STALL=1, WatchdogSec=2s), as the daemon's contract prescribes; on the
generated units that drop-in also shows that ``systemctl edit`` works on them.
"""

import re
import time

import pytest

from znetd_sandbox import GeneratedDeployment, ZnetdDeployment, wait_until

PORT = ZnetdDeployment.LISTEN_PORT
GET_ID = b"GET /id.txt HTTP/1.0\r\nHost: sandbox\r\n\r\n"
STATUS_RE = re.compile(r"^(\d+) services?, (\d+) connections?")


def status_counts(znetd):
    """(services, connections) from znetd's STATUS= text, or None if it does not match."""
    text = znetd.show("StatusText")["StatusText"]
    m = STATUS_RE.match(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def flat(notifications):
    return [item for message in notifications for item in message]


@pytest.fixture(scope="module", params=["shipped", "generated"])
def znetd(request, znetd_bin, sandboxes):
    """The deployment under test, in a sandbox of its own (both listen on the same port)."""
    sb = sandboxes.boot()
    try:
        if request.param == "shipped":
            deployment = ZnetdDeployment(sb, znetd_bin)
        else:
            deployment = GeneratedDeployment(sb, znetd_bin, znetd_bin.parent / "znetd-generator")
        deployment.install()
        yield deployment
    finally:
        sandboxes.stop(sb)


def test_units_verify(znetd):
    """systemd-analyze verify accepts both units (man pages not installed here), wherever
    systemd loaded them from (/etc/systemd/system, or the generator's directory)."""
    paths = [znetd.sandbox.show(unit, "FragmentPath")["FragmentPath"]
             for unit in (znetd.SOCKET, znetd.SERVICE)]
    assert all(paths), paths
    result = znetd.sandbox.exec("systemd-analyze", "verify", "--man=no", *paths)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", f"systemd-analyze verify warned:\n{result.stderr}"


def test_socket_activation_starts_znetd_on_first_connection(znetd, report):
    sb = znetd.sandbox
    znetd.baseline()

    # systemd, not znetd, owns the listening socket; znetd is not running yet.
    listeners = sb.listening(PORT)
    assert listeners, f"nothing listens on :{PORT} after systemctl start {znetd.SOCKET}"
    assert all('"systemd",pid=1,' in line for line in listeners), listeners
    assert sb.is_active(znetd.SERVICE) == "inactive"

    mark = sb.journal_mark()
    started = time.monotonic()
    reply = znetd.http_get("/id.txt")
    first_reply = time.monotonic() - started
    assert reply.error is None and reply.complete, reply
    assert reply.status == 200, reply.raw[:300]
    assert reply.body == b"backend 9090\n"

    # The connection started znetd, and Type=notify reached "active" (READY=1).
    pid = znetd.wait_active(timeout=5)
    assert pid > 0
    props = znetd.show("Type", "NRestarts", "TriggeredBy")
    assert props["Type"] == "notify"
    assert props["NRestarts"] == "0"
    assert znetd.SOCKET in props["TriggeredBy"].split()
    messages = sb.messages(znetd.SERVICE, after=mark)
    assert any(m.startswith(f"Starting {znetd.SERVICE}") for m in messages), messages
    notes = flat(znetd.notifications(after=mark))
    assert "READY=1" in notes, f"no READY=1 among the notifications {notes}"

    # The request reached the backend through znetd (http.server logs it to the journal).
    wait_until(lambda: any('"GET /id.txt HTTP/1.0" 200' in m for m in
                           sb.messages("backend-9090.service", after=mark)), 5,
               message="the backend to log the request")
    report(f"first connection answered {first_reply * 1000:.0f} ms after connect "
           "(includes starting znetd)")


def test_backend_close_reaches_client(znetd):
    """http.server closes the connection after an HTTP/1.0 reply: each client must see that
    EOF promptly (an HTTP/1.0 client without Content-Length would otherwise hang)."""
    znetd.baseline()
    znetd.start()
    for attempt in range(5):
        reply = znetd.http_get("/id.txt", eof_wait=2)
        assert reply.error is None and reply.complete and reply.status == 200, reply
        assert reply.eof, (f"connection {attempt + 1}: znetd did not pass the backend's EOF "
                           "on to the client within 2 s of the complete reply")


def test_journal_connection_record(znetd):
    sb = znetd.sandbox
    znetd.baseline()
    znetd.start()

    reply = znetd.http_get("/big.bin")
    assert reply.error is None and reply.complete and reply.status == 200, reply
    assert reply.body == ZnetdDeployment.big_body()
    client_port = reply.local[1]

    def record():
        for entry in sb.journal(znetd.SERVICE, "ZNETD_SERVICE=web"):
            client = str(entry.get("ZNETD_CLIENT", ""))
            if client.endswith(f":{client_port}") and "ZNETD_BYTES_OUT" in entry:
                return entry
        return None

    entry = wait_until(record, 5, message=f"connection record for client port {client_port}")
    for field in ("ZNETD_SERVICE", "ZNETD_CLIENT", "ZNETD_TARGET", "ZNETD_BYTES_IN",
                  "ZNETD_BYTES_OUT", "ZNETD_DURATION_USEC"):
        assert field in entry, f"{field} missing from {entry}"
    assert entry["SYSLOG_IDENTIFIER"] == "znetd"
    assert entry["_TRANSPORT"] == "journal", "not a native journal entry"
    assert entry["_SYSTEMD_UNIT"] == znetd.SERVICE
    assert entry["ZNETD_SERVICE"] == "web"
    assert "127.0.0.1" in entry["ZNETD_CLIENT"]
    assert entry["ZNETD_TARGET"] == "127.0.0.1:9090"
    assert int(entry["ZNETD_BYTES_IN"]) == reply.sent == len(b"GET /big.bin HTTP/1.0\r\n"
                                                                b"Host: sandbox\r\n\r\n")
    assert int(entry["ZNETD_BYTES_OUT"]) == len(reply.raw)
    duration = int(entry["ZNETD_DURATION_USEC"])
    assert 0 < duration <= reply.result["seconds"] * 1e6 + 50_000


def test_status_text_counts_services_and_connections(znetd):
    sb = znetd.sandbox
    znetd.baseline()
    znetd.start()

    assert wait_until(lambda: status_counts(znetd), 3, message="STATUS= text") == (1, 0), \
        znetd.show("StatusText")
    with sb.client_popen("hold", {"port": PORT, "hold_for": 20}) as hold:
        hold.wait_for_line(lambda line: line.startswith("connected"), 10, "connection")
        # STATUS= is refreshed every second.
        wait_until(lambda: status_counts(znetd) == (1, 1), 4,
                   message="STATUS= to count the open connection")
        status = sb.systemctl("status", znetd.SERVICE).stdout
        text = znetd.show("StatusText")["StatusText"]
        assert f'Status: "{text}"' in status, status
        assert hold.finish()["closed_by"] == "stdin"
    wait_until(lambda: status_counts(znetd) == (1, 0), 4,
               message="STATUS= back to 0 connections")


def test_reload_switches_target_and_keeps_the_process(znetd):
    sb = znetd.sandbox
    znetd.baseline()
    pid = znetd.start()
    assert znetd.http_get().body == b"backend 9090\n"

    mark = sb.journal_mark()
    znetd.write_config(target_port=9091)
    sb.systemctl("reload", znetd.SERVICE)
    wait_until(lambda: znetd.http_get().body == b"backend 9091\n", 5,
               message="new connections to reach the backend on 9091")
    bodies = [znetd.http_get().body for _ in range(5)]
    assert bodies == [b"backend 9091\n"] * 5

    assert znetd.wait_active(timeout=5) == pid, "reload replaced the process"
    notes = flat(znetd.notifications(after=mark))
    assert "RELOADING=1" in notes, notes
    assert "READY=1" in notes[notes.index("RELOADING=1"):], notes
    wait_until(lambda: any('"GET /id.txt HTTP/1.0" 200' in m for m in
                           sb.messages("backend-9091.service", after=mark)), 5,
               message="the backend on 9091 to log the requests")


def test_restart_refuses_no_connection(znetd, report):
    sb = znetd.sandbox
    znetd.baseline()
    pid = znetd.start()

    with sb.client_popen("loop", {"port": PORT, "data": GET_ID, "expect": b"backend 9090",
                                  "http": True, "min": 200, "deadline": 45}) as loop:
        progress = lambda line: int(line.split()[1]) if line.startswith("progress") else 0
        loop.wait_for_line(lambda line: progress(line) >= 30, 10, "30 connections")
        restart_began = time.time()
        sb.systemctl("restart", znetd.SERVICE)
        new_pid = znetd.wait_active(timeout=10)
        restart_done = time.time()
        at_restart = progress(loop.read_available())
        loop.wait_for_line(lambda line: progress(line) >= max(200, at_restart + 100), 20,
                           "100 connections after the restart")
        result = loop.finish()

    assert new_pid != pid, "systemctl restart did not replace znetd"
    assert result["failures"] == [], result["failures"][:5]
    assert result["count"] >= 200
    before = sum(t < restart_began for t in result["times"])
    during = sum(restart_began <= t <= restart_done for t in result["times"])
    after = sum(t > restart_done for t in result["times"])
    assert before and after, "the client loop did not span the restart"
    report(f"{result['count']} connections, 0 failed: {before} before, {during} during "
           f"({(restart_done - restart_began) * 1000:.0f} ms), {after} after the restart")


def test_watchdog_restarts_a_stalled_znetd(znetd, report):
    sb = znetd.sandbox
    znetd.baseline()
    sb.write(znetd.DROPIN, "[Service]\nEnvironment=ZNETD_DEBUG_STALL=1\nWatchdogSec=2s\n")
    sb.systemctl("daemon-reload")
    try:
        mark = sb.journal_mark()
        pid = znetd.start()
        assert znetd.show("WatchdogUSec")["WatchdogUSec"] == "2s"
        assert znetd.http_get().status == 200
        # znetd pings at half WatchdogSec while its loops are alive.
        wait_until(lambda: ["WATCHDOG=1"] in znetd.notifications(after=mark), 5,
                   message="a WATCHDOG=1 ping")
        restarts = int(znetd.show("NRestarts")["NRestarts"])

        mark = sb.journal_mark()
        stalled_at = time.monotonic()
        sb.systemctl("kill", "--signal=SIGUSR2", znetd.SERVICE)

        def restarted():
            props = znetd.show("MainPID", "ActiveState", "NRestarts")
            return (props["ActiveState"] == "active" and props["MainPID"] not in ("0", str(pid))
                    and int(props["NRestarts"]) > restarts)

        try:
            wait_until(restarted, 10, interval=0.1, message="the watchdog to restart znetd")
        except AssertionError:
            lines = "\n".join(sb.messages(znetd.SERVICE, after=mark)[-15:])
            raise AssertionError(
                f"znetd (PID {pid}) not restarted within 10 s of SIGUSR2 with WatchdogSec=2s "
                f"(state {znetd.show('ActiveState', 'SubState', 'MainPID')}); "
                f"journal:\n{lines}") from None
        elapsed = time.monotonic() - stalled_at

        messages = sb.messages(znetd.SERVICE, after=mark)
        assert any("Watchdog timeout" in m for m in messages), messages
        assert any(f"Killing process {pid} (znetd) with signal SIGABRT" in m
                   for m in messages), messages
        assert any("Main process exited" in m and "status=6/ABRT" in m for m in messages), \
            f"znetd did not die of the watchdog's SIGABRT: {messages}"
        assert int(znetd.show("NRestarts")["NRestarts"]) == restarts + 1
        reply = znetd.http_get()
        assert reply.status == 200 and reply.body == b"backend 9090\n", reply
        report(f"SIGUSR2 to restarted and serving: {elapsed:.1f} s (WatchdogSec=2s)")
    finally:
        sb.remove(znetd.DROPIN)
        sb.systemctl("daemon-reload")


def test_stop_drains_then_exits_cleanly(znetd, report):
    sb = znetd.sandbox
    znetd.baseline()
    znetd.write_config(drain_timeout="2s")
    znetd.start()

    with sb.client_popen("hold", {"port": PORT, "hold_for": 30}) as hold:
        hold.wait_for_line(lambda line: line.startswith("connected"), 10, "connection")
        wait_until(lambda: status_counts(znetd) == (1, 1), 4,
                   message="znetd to count the open connection")
        mark = sb.journal_mark()
        began, began_wall = time.monotonic(), time.time()
        sb.systemctl("stop", znetd.SERVICE, timeout=60)
        took = time.monotonic() - began
        held = hold.finish(timeout=10)

    # znetd kept the open connection through the drain, closed it at drain_timeout, then
    # exited: well within TimeoutStopSec=45s, and successfully.
    assert held["closed_by"] == "peer", held
    closed_after = held["closed_at"] - began_wall
    assert 1.5 <= closed_after <= took + 0.5, \
        f"connection closed {closed_after:.2f}s after the stop began (drain_timeout 2s)"
    assert 1.5 <= took <= 6, f"stop took {took:.2f}s with drain_timeout 2s"
    props = znetd.show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    assert props["ActiveState"] == "inactive", props
    assert props["Result"] == "success", props
    assert props["ExecMainCode"] == "1" and props["ExecMainStatus"] == "0", \
        f"znetd did not exit with status 0: {props}"
    notes = flat(znetd.notifications(after=mark))
    assert "STOPPING=1" in notes, notes
    assert sb.is_active(znetd.SOCKET) == "active", "the socket must stay with systemd"
    report(f"stop with 1 open connection took {took:.2f} s (drain_timeout 2s); znetd closed "
           f"the connection {closed_after:.2f} s after the stop began")


def test_security_exposure(znetd, report):
    result = znetd.sandbox.exec("systemd-analyze", "security", "--no-pager", znetd.SERVICE)
    m = re.search(rf"Overall exposure level for {re.escape(znetd.SERVICE)}: (\d+(?:\.\d+)?)",
                  result.stdout)
    assert m, f"no score in systemd-analyze output:\n{result.stdout}\n{result.stderr}"
    score = float(m.group(1))
    report(f"systemd-analyze security {znetd.SERVICE}: {score}")
    assert score <= 2.0
