"""System tests: on-demand backends that are systemd units (launcher: unit, transient-unit).

One sandbox (systemd 252 as PID 1, dbus-daemon, private namespaces) serves the module.  znetd
runs as the project ships it: units/znetd.service and units/znetd.socket copied verbatim,
plus one .socket unit per on-demand service (FileDescriptorName=<service>,
Service=znetd.service), written here.  Clients run in the sandbox's network namespace.

One drop-in is added to znetd.service: ``DynamicUser=no`` and ``User=root``.  With the
shipped ``DynamicUser=yes`` znetd cannot use the system bus at all: dbus-daemon runs with
SYSTEMD_NSS_DYNAMIC_BYPASS=1 (set by PID 1), cannot resolve the dynamic UID, and closes the
connection after Hello; znetd then refuses the client with "cannot wake backend: lost the
connection to the system bus: the connection was closed".  (A static unprivileged user gets
as far as StartUnit and is refused by polkit: "Interactive authentication required".)  A
znetd that starts units has to run as root, or as a user polkit lets manage those units.

Every test starts from ``prepare()``: znetd.service stopped, no backend unit running, the
configuration of the test written, znetd started (so that its first connection wakes only
the backend).  Each test therefore also runs alone (``-k``).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from znetd_sandbox import ZnetdDeployment, wait_until

SERVICE = ZnetdDeployment.SERVICE
DROPIN = "/etc/systemd/system/znetd.service.d/on-demand-units.conf"
DROPIN_TEXT = "[Service]\nDynamicUser=no\nUser=root\n"

DEMO_UNIT = "demo-backend.service"
APP_UNIT = "znetd-app-backend.service"      # launcher: transient-unit, default unit_name
SLOW_UNIT = "znetd-slow-backend.service"    # transient-unit with ready: notify
BACKEND_UNITS = (DEMO_UNIT, APP_UNIT, SLOW_UNIT)
DOCROOT = "/srv/on-demand"
BODY = b"on-demand backend\n"

DB_PORT, APP_PORT, SLOW_PORT = 7000, 7100, 7200
SOCKETS = {"db": DB_PORT, "app": APP_PORT, "slow": SLOW_PORT}

DEMO_UNIT_TEXT = f"""\
[Unit]
Description=znetd test: an existing backend unit

[Service]
ExecStart=/usr/bin/python3 -m http.server 7001 --bind 127.0.0.1 --directory {DOCROOT}
"""

# Listens at once, says READY=1 on systemd's $NOTIFY_SOCKET only a second later, then serves.
NOTIFY_LATE_SERVER = (
    "import os, socket, time, http.server as h; "
    "s = h.HTTPServer(('127.0.0.1', 7201), h.SimpleHTTPRequestHandler); "
    "time.sleep(1); "
    "a = os.environ['NOTIFY_SOCKET']; "
    "a = '\\0' + a[1:] if a.startswith('@') else a; "
    "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', a); "
    "s.serve_forever()"
)


def socket_unit(name, port):
    return (f"[Unit]\nDescription=znetd test: listening socket of service {name}\n\n"
            f"[Socket]\nListenStream={port}\nFileDescriptorName={name}\n"
            "Service=znetd.service\nNoDelay=yes\n")


def config_text(app_stop_after="1s", db_unit=DEMO_UNIT):
    """znetd.yaml: web (the shipped znetd.socket's service) and three on-demand services."""
    q = json.dumps  # JSON strings and lists are YAML too
    return f"""\
services:
  web:
    listen: ":8080"
    target: "127.0.0.1:9090"
  db:
    listen: ":{DB_PORT}"
    target: "127.0.0.1:7001"
    unit: {db_unit}
    stop_after: 1s
  app:
    listen: ":{APP_PORT}"
    target: "127.0.0.1:7101"
    launcher: transient-unit
    command: {q(["/usr/bin/python3", "-m", "http.server", "7101", "--bind", "127.0.0.1",
                 "--directory", DOCROOT])}
    unit_properties: {{MemoryMax: 256M, CPUQuota: 50%}}
    ready: tcp
    stop_after: {app_stop_after}
  slow:
    listen: ":{SLOW_PORT}"
    target: "127.0.0.1:7201"
    launcher: transient-unit
    unit_name: {SLOW_UNIT}
    command: {q(["/usr/bin/python3", "-c", NOTIFY_LATE_SERVER])}
    working_directory: {DOCROOT}
    ready: notify
    stop_after: 1s
"""


# --------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def units(znetd):
    """The module's znetd deployment plus the demo unit, the extra sockets and the drop-in."""
    sb = znetd.sandbox
    sb.write(f"{DOCROOT}/id.txt", BODY)
    sb.write(f"/etc/systemd/system/{DEMO_UNIT}", DEMO_UNIT_TEXT)
    for name, port in SOCKETS.items():
        sb.write(f"/etc/systemd/system/znetd-{name}.socket", socket_unit(name, port))
    sb.write(DROPIN, DROPIN_TEXT)
    sb.systemctl("daemon-reload")
    return znetd


def prepare(znetd, **config):
    """znetd stopped, every backend unit gone, the test's configuration, znetd started."""
    sb = znetd.sandbox
    sb.systemctl("stop", SERVICE, check=False)
    sb.systemctl("stop", *BACKEND_UNITS, check=False)
    sb.systemctl("reset-failed", SERVICE, *BACKEND_UNITS, check=False)
    for unit in BACKEND_UNITS:
        wait_until(lambda: sb.is_active(unit) in ("inactive", "failed"), 5,
                   message=f"{unit} to stop")
    sb.write(znetd.CONFIG, config_text(**config))
    sb.systemctl("start", znetd.SOCKET, *[f"znetd-{name}.socket" for name in SOCKETS])
    znetd.start()


def get(znetd, port, timeout=10):
    reply = znetd.http_get("/id.txt", port=port, timeout=timeout)
    assert reply.error is None and reply.complete, reply
    assert reply.status == 200 and reply.body == BODY, reply.raw[:300]
    return reply


def znetd_log(sb, service, after):
    """znetd's journal entries about ``service`` since the mark.

    Matched by SYSLOG_IDENTIFIER, not by unit: journald files a process's first lines under
    the cgroup it had when its context was cached (with PID 1 at debug level the forked
    "(znetd)" logs from init.scope), so ``-u znetd.service`` misses znetd's first second."""
    return [e for e in sb.journal(None, "SYSLOG_IDENTIFIER=znetd", after=after)
            if e.get("ZNETD_SERVICE") == service]


def messages(entries):
    return [str(e.get("MESSAGE", "")) for e in entries]


def wait_for_message(sb, service, after, prefix, timeout=5):
    def found():
        return [e for e in znetd_log(sb, service, after)
                if str(e.get("MESSAGE", "")).startswith(prefix)]
    return wait_until(found, timeout, message=f"znetd to log {prefix!r} for {service}")


def pid1_messages(sb, unit, after):
    """PID 1's messages about ``unit`` since the mark ("Started X - ...", ...)."""
    return [str(e.get("MESSAGE", "")) for e in sb.journal(None, f"UNIT={unit}", after=after)]


def starts(sb, unit, after):
    return sum(m.startswith(f"Started {unit}") for m in pid1_messages(sb, unit, after))


def listed(sb, unit):
    """True if ``systemctl list-units --all`` still shows ``unit`` (loaded in the manager)."""
    out = sb.systemctl("list-units", "--all", "--plain", "--no-legend", unit).stdout
    return any(line.split()[:1] == [unit] for line in out.splitlines())


def main_pid(sb, unit):
    return int(sb.show(unit, "MainPID")["MainPID"])


def wake_usec(sb, service, after):
    ready = wait_for_message(sb, service, after, "backend ready after ")
    return int(ready[-1]["ZNETD_WAKE_USEC"])


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


def test_existing_unit_started_on_first_connection_and_stopped_when_idle(units, report):
    sb = units.sandbox
    prepare(units)
    timings = []
    for cycle in (1, 2):
        assert sb.is_active(DEMO_UNIT) == "inactive", f"cycle {cycle}: started too early"
        assert not sb.listening(7001)
        mark = sb.journal_mark()

        # Three clients at once: all held until the backend is up, the unit started once.
        replies, errors = [], []

        def client():
            try:
                replies.append(get(units, DB_PORT))
            except AssertionError as exc:
                errors.append(exc)

        clients = [threading.Thread(target=client) for _ in range(3)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(20)
        served_at = time.monotonic()
        assert not errors, errors
        assert len(replies) == 3
        assert sb.is_active(DEMO_UNIT) == "active"
        assert starts(sb, DEMO_UNIT, mark) == 1, pid1_messages(sb, DEMO_UNIT, mark)

        # Idle for stop_after (1s): znetd stops the unit (StopUnit), and not much earlier.
        wait_until(lambda: sb.is_active(DEMO_UNIT) == "inactive", 6, interval=0.02,
                   message=f"cycle {cycle}: {DEMO_UNIT} to be stopped after 1 s idle")
        stopped_after = time.monotonic() - served_at
        assert 0.7 <= stopped_after <= 4, f"stopped {stopped_after:.2f} s after the replies"
        assert sb.show(DEMO_UNIT, "Result")["Result"] == "success"
        assert any(m.startswith(f"Stopped {DEMO_UNIT}")
                   for m in pid1_messages(sb, DEMO_UNIT, mark)), "not stopped by a stop job"

        wait_for_message(sb, "db", mark, "backend stopped")
        log = znetd_log(sb, "db", mark)
        text = messages(log)
        assert text.count("waking backend (first connection)") == 1, text
        ready = [e for e in log if str(e["MESSAGE"]).startswith("backend ready after ")]
        assert len(ready) == 1, text
        assert ready[0]["ZNETD_LAUNCHER"] == "unit"
        usec = int(ready[0]["ZNETD_WAKE_USEC"])
        assert 0 < usec < 10_000_000
        assert "stopping backend: idle for 1s" in text, text
        assert text.index("stopping backend: idle for 1s") < text.index("backend stopped")
        timings.append(f"wake {usec / 1000:.0f} ms, stopped {stopped_after:.2f} s after")
    report("; ".join(f"cycle {i + 1}: {t}" for i, t in enumerate(timings)))


def test_transient_unit_gets_its_properties_and_is_collected(units, report):
    sb = units.sandbox
    prepare(units)
    assert not listed(sb, APP_UNIT)
    mark = sb.journal_mark()

    get(units, APP_PORT)
    assert wake_usec(sb, "app", mark) > 0
    ready = wait_for_message(sb, "app", mark, "backend ready after ")
    assert ready[0]["ZNETD_LAUNCHER"] == "transient-unit"

    # A held connection keeps the backend up while its properties are read.
    with sb.client_popen("hold", {"port": APP_PORT, "hold_for": 20}) as hold:
        hold.wait_for_line(lambda line: line.startswith("connected"), 10, "connection")
        wait_until(lambda: sb.is_active(APP_UNIT) == "active", 10,
                   message=f"{APP_UNIT} active while a client is connected")
        props = sb.show(APP_UNIT, "MemoryMax", "CPUQuotaPerSecUSec", "CollectMode",
                        "ExecStart", "Description", "MainPID")
        assert props["MemoryMax"] == "268435456", props
        assert props["CPUQuotaPerSecUSec"] == "500ms", props
        assert props["CollectMode"] == "inactive-or-failed", props
        assert "argv[]=/usr/bin/python3 -m http.server 7101 --bind 127.0.0.1" in \
            props["ExecStart"], props["ExecStart"]
        assert props["Description"] == "znetd backend of service app", props
        assert int(props["MainPID"]) > 0
        # Still up after stop_after: a connected client is not idle.
        time.sleep(1.5)
        assert sb.is_active(APP_UNIT) == "active", "stopped while a client was connected"
        assert hold.finish()["closed_by"] == "stdin"
    released = time.monotonic()

    wait_until(lambda: not listed(sb, APP_UNIT), 6, interval=0.05,
               message=f"{APP_UNIT} to be stopped and collected after 1 s idle")
    gone_after = time.monotonic() - released
    text = messages(znetd_log(sb, "app", mark))
    assert "stopping backend: idle for 1s" in text, text
    assert starts(sb, APP_UNIT, mark) == 1, pid1_messages(sb, APP_UNIT, mark)
    report(f"transient unit collected {gone_after:.2f} s after the last client left")


def test_ready_notify_holds_the_client_until_ready(units, report):
    sb = units.sandbox
    prepare(units)
    mark = sb.journal_mark()

    reply = get(units, SLOW_PORT)
    held = reply.result["seconds"]
    # The backend listens at once but says READY=1 one second later: a client let through
    # at "port open" would be answered in a few ms.
    assert 1.0 <= held < 5, f"client answered after {held:.2f} s (READY=1 after 1 s)"
    usec = wake_usec(sb, "slow", mark)
    assert 1_000_000 <= usec < 5_000_000, usec
    props = sb.show(SLOW_UNIT, "Type", "ActiveState", "WorkingDirectory")
    assert props["Type"] == "notify", props
    notes = [m for m in pid1_messages(sb, SLOW_UNIT, mark) if "READY=1" in m]
    assert notes, "systemd got no READY=1 from the backend"
    wait_until(lambda: not listed(sb, SLOW_UNIT), 6, message=f"{SLOW_UNIT} collected")
    report(f"client held {held * 1000:.0f} ms; znetd: backend ready after "
           f"{usec / 1000:.0f} ms (READY=1 sent after 1 s)")


def test_restarted_znetd_adopts_the_running_unit(units, report):
    sb = units.sandbox
    # stop_after long enough to span the restart, short enough to see the idle stop after.
    prepare(units, app_stop_after="4s")
    mark = sb.journal_mark()
    get(units, APP_PORT)
    wait_until(lambda: sb.is_active(APP_UNIT) == "active", 5, message=f"{APP_UNIT} active")
    before = sb.show(APP_UNIT, "MainPID", "InvocationID")
    old_znetd = units.main_pid()

    after_restart = sb.journal_mark()
    sb.systemctl("restart", SERVICE)
    new_znetd = units.wait_active()
    assert new_znetd != old_znetd
    assert sb.show(APP_UNIT, "MainPID", "InvocationID") == before, "the backend was restarted"

    adopted = wait_for_message(sb, "app", after_restart,
                               "backend already running; taking it over")
    assert int(adopted[0]["_PID"]) == new_znetd
    get(units, APP_PORT)
    assert sb.show(APP_UNIT, "MainPID", "InvocationID") == before, \
        "the new znetd started the backend again"
    text = messages(e for e in znetd_log(sb, "app", after_restart)
                    if int(e["_PID"]) == new_znetd)
    assert not any(m.startswith("waking backend") for m in text), text
    assert starts(sb, APP_UNIT, mark) == 1, pid1_messages(sb, APP_UNIT, mark)

    # The adopted backend is stopped once idle for stop_after, like one znetd started.
    served = time.monotonic()
    wait_until(lambda: not listed(sb, APP_UNIT), 10, interval=0.05,
               message=f"the adopted {APP_UNIT} to be stopped after 4 s idle")
    idle_stop = time.monotonic() - served
    assert idle_stop >= 3, f"stopped {idle_stop:.2f} s after the last client (stop_after 4s)"
    assert "stopping backend: idle for 4s" in messages(znetd_log(sb, "app", after_restart))
    report(f"backend PID {before['MainPID']} kept across the restart; stopped "
           f"{idle_stop:.1f} s after the last client")


def test_killed_unit_is_noticed_and_started_again(units, report):
    sb = units.sandbox
    prepare(units, app_stop_after="30s")
    mark = sb.journal_mark()
    get(units, APP_PORT)
    wait_until(lambda: sb.is_active(APP_UNIT) == "active", 5, message=f"{APP_UNIT} active")
    first = main_pid(sb, APP_UNIT)
    assert first > 0

    sb.systemctl("kill", "-s", "KILL", APP_UNIT)
    wait_until(lambda: sb.is_active(APP_UNIT) in ("failed", "inactive"), 5,
               message=f"{APP_UNIT} to die")
    exited = wait_for_message(sb, "app", mark, "backend exited")
    assert messages(exited)[0] == (f"backend exited (unit {APP_UNIT} is failed (failed)); "
                                   "the next connection starts it again"), messages(exited)
    assert int(exited[0]["PRIORITY"]) == 4  # warning

    reply = get(units, APP_PORT)
    second = main_pid(sb, APP_UNIT)
    assert sb.is_active(APP_UNIT) == "active"
    assert second > 0 and second != first, "the backend was not started again"
    text = messages(znetd_log(sb, "app", mark))
    assert text.count("waking backend (first connection)") == 2, text
    assert starts(sb, APP_UNIT, mark) == 2, pid1_messages(sb, APP_UNIT, mark)
    report(f"killed PID {first}; the next connection was served by PID {second} in "
           f"{reply.result['seconds'] * 1000:.0f} ms")


def test_existing_unit_stopped_behind_znetds_back_is_started_again(units):
    sb = units.sandbox
    prepare(units)
    mark = sb.journal_mark()
    with sb.client_popen("hold", {"port": DB_PORT, "hold_for": 20}) as hold:
        hold.wait_for_line(lambda line: line.startswith("connected"), 10, "connection")
        # Ready, not just active: stopped while znetd still probes it, the unit would be a
        # failed wake-up ("... while starting"), not a backend that went away.
        wait_for_message(sb, "db", mark, "backend ready after ", timeout=10)
        assert sb.is_active(DEMO_UNIT) == "active"
        first = main_pid(sb, DEMO_UNIT)
        sb.systemctl("stop", DEMO_UNIT)
        exited = wait_for_message(sb, "db", mark, "backend exited")
        assert messages(exited)[0] == (f"backend exited (unit {DEMO_UNIT} is inactive (dead)); "
                                       "the next connection starts it again"), messages(exited)
        hold.finish()
    get(units, DB_PORT)
    assert main_pid(sb, DEMO_UNIT) not in (0, first)


def test_check_reports_an_unknown_unit(units):
    sb = units.sandbox
    sb.write("/tmp/znetd-check-nope.yaml", config_text(db_unit="nope.service"))
    sb.write("/tmp/znetd-check-demo.yaml", config_text())
    bad = sb.exec("/usr/bin/znetd", "check", "--config", "/tmp/znetd-check-nope.yaml")
    assert bad.returncode == 1, (bad.returncode, bad.stdout, bad.stderr)
    assert "services.db.unit: unknown unit nope.service (systemd says its load state is " \
           "'not-found')" in bad.stderr, bad.stderr
    # The same configuration naming a unit that exists passes: it is the unit that failed.
    good = sb.exec("/usr/bin/znetd", "check", "--config", "/tmp/znetd-check-demo.yaml")
    assert good.returncode == 0, good.stderr
    assert "unknown unit" not in good.stderr
