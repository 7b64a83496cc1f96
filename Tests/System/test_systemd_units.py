"""System tests: ZnetdCore's systemd D-Bus client (SystemdUnits) against systemd 252.

The test-only executable ``znetd-bus-probe`` (Sources/znetd-bus-probe) runs SystemdUnits
on an EventLoop and executes a script of operations, one JSON line per result.  It is
copied into one sandbox shared by the module (systemd as PID 1, dbus-daemon, a real
system bus) and run there; ``systemctl show`` in the same sandbox checks what systemd
made of each request.  No mocks.

The binary: ``$ZNETD_BUS_PROBE``, else the newer of ``.build/release/znetd-bus-probe``
and ``.build/debug/znetd-bus-probe`` (``swift build`` builds it with znetd).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from znetd_sandbox import REPO_ROOT, SANDBOX_SH, skip_or_fail, wait_until

PROBE = "/usr/local/bin/znetd-bus-probe"
NOTIFY_LATE = "/usr/local/lib/znetd-test/notify-late.py"
DEMO = "znetd-demo.service"

NOTIFY_LATE_PY = """\
# Sends READY=1 after argv[1] seconds (or exits 3 first, with argv[2] == "exit").
import os, socket, sys, time
time.sleep(float(sys.argv[1]))
if sys.argv[2:] == ["exit"]:
    sys.exit(3)
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):
    address = "\\0" + address[1:]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.sendto(b"READY=1", address)
time.sleep(300)
"""

DEMO_UNIT = """\
[Unit]
Description=znetd test: a plain unit for StartUnit/StopUnit

[Service]
ExecStart=/bin/sleep 300
"""


def probe_path():
    explicit = os.environ.get("ZNETD_BUS_PROBE")
    if explicit:
        return Path(explicit).resolve()
    built = [REPO_ROOT / ".build" / kind / "znetd-bus-probe" for kind in ("release", "debug")]
    built = [path for path in built if path.is_file()]
    return max(built, key=lambda path: path.stat().st_mtime) if built else built


@pytest.fixture(scope="module")
def probe_bin():
    path = probe_path()
    if not path or not os.access(path, os.X_OK):
        skip_or_fail("znetd-bus-probe not built: run `swift build` (or `swift build -c release "
                     "--static-swift-stdlib`) or set ZNETD_BUS_PROBE")
    return path


@pytest.fixture(scope="module")
def units(sandbox, probe_bin):
    """The module's sandbox with the probe, a demo unit and the notify helper installed."""
    sandbox.copy_in(probe_bin, PROBE, mode=0o755)
    sandbox.write(NOTIFY_LATE, NOTIFY_LATE_PY)
    sandbox.write(f"/etc/systemd/system/{DEMO}", DEMO_UNIT)
    sandbox.systemctl("daemon-reload")
    return sandbox


def parse_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def probe(sb, *operations, timeout=20):
    """Runs the probe in the sandbox; its result lines (``change`` lines included)."""
    result = sb.exec(PROBE, f"--timeout={timeout}", *operations, timeout=timeout + 15)
    lines = parse_lines(result.stdout)
    assert result.returncode == 0, (f"znetd-bus-probe exited {result.returncode}: "
                                    f"{result.stderr.strip()} {lines}")
    return lines


def results(lines, op=None):
    return [line for line in lines if line["op"] != "change" and (op is None or line["op"] == op)]


class BackgroundProbe:
    """The probe running in the background, its lines read as they come (to look at systemd
    while the probe's bus connection is still open)."""

    def __init__(self, sb, *operations, timeout=30):
        self.proc = subprocess.Popen(
            [str(SANDBOX_SH), "exec", str(sb.pid), PROBE, f"--timeout={timeout}", *operations],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buffer = b""
        self.lines = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def wait_for(self, op, timeout=15, where=lambda line: True):
        """The next line of ``op`` (that ``where`` accepts); every line read is kept in
        ``lines``."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                raw, _, self.buffer = self.buffer.partition(b"\n")
                line = json.loads(raw)
                self.lines.append(line)
                if line["op"] == op and where(line):
                    return line
                if line["op"] == "timeout":
                    raise AssertionError(f"probe timed out: {self.lines}")
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"no '{op}' line from the probe within {timeout}s: {self.lines}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"probe ended before '{op}' ({self.proc.wait()}): {self.lines} "
                                     f"{self.proc.stderr.read().decode(errors='replace')}")
            self.buffer += chunk


def listed(sb, unit):
    """True if ``systemctl list-units --all`` still shows ``unit`` (loaded in the manager)."""
    out = sb.systemctl("list-units", "--all", "--plain", "--no-legend", unit).stdout
    return any(line.split()[:1] == [unit] for line in out.splitlines())


# --------------------------------------------------------------------------------------


def test_transient_unit_gets_its_properties_and_is_collected_after_stop(units, report):
    sb = units
    unit = "znetd-limits-backend.service"
    lines = probe(sb, f"start-transient {unit} MemoryMax:t=268435456 "
                      "CPUQuotaPerSecUSec:t=500000 cmdenv=FROM_COMMAND=1 env=ZNETD_EXTRA=hello "
                      "cwd=/tmp desc=limits user=nobody group=nogroup Nice:i=5 "
                      "SendSIGHUP:b=true ReadOnlyPaths:as=/srv,/opt -- /bin/sleep 300",
                  f"state {unit}")
    start, state = results(lines)
    assert start["ok"] and start["result"] == "done", start
    assert start["job"].startswith("/org/freedesktop/systemd1/job/")
    assert state["ok"] and (state["active_state"], state["sub_state"]) == ("active", "running"), state

    props = sb.show(unit, "MemoryMax", "CPUQuotaPerSecUSec", "Environment", "CollectMode",
                    "WorkingDirectory", "Description", "ExecStart", "MainPID", "ActiveState",
                    "User", "Group", "Nice", "SendSIGHUP", "ReadOnlyPaths")
    assert props["ActiveState"] == "active"
    assert props["MemoryMax"] == "268435456"
    assert props["CPUQuotaPerSecUSec"] == "500ms"
    assert props["Environment"].split() == ["FROM_COMMAND=1", "ZNETD_EXTRA=hello"]
    assert props["CollectMode"] == "inactive-or-failed"
    assert props["WorkingDirectory"] == "/tmp"
    assert props["Description"] == "limits"
    # Every UnitProperty value type: s (above), t, i, b, as.
    assert (props["User"], props["Group"]) == ("nobody", "nogroup")
    assert props["Nice"] == "5"
    assert props["SendSIGHUP"] == "yes"
    assert props["ReadOnlyPaths"].split() == ["/srv", "/opt"]
    owner = sb.exec("ps", "-o", "user=", "-p", props["MainPID"]).stdout.strip()
    assert owner == "nobody", owner
    assert "path=/bin/sleep ; argv[]=/bin/sleep 300 ; ignore_errors=no" in props["ExecStart"]
    assert state["main_pid"] == int(props["MainPID"]) > 0
    # The probe that started it (and held its AddRef reference) has exited: nothing refers
    # to the unit any more but its running process.

    stop = results(probe(sb, f"stop {unit}"))[0]
    assert stop["ok"] and stop["result"] == "done", stop
    assert sb.is_active(unit) == "inactive"
    wait_until(lambda: not listed(sb, unit), 5, message=f"{unit} to be collected")
    report(f"transient unit started in {start['ms']} ms, stopped in {stop['ms']} ms")


def test_crashed_unit_is_reported_kept_while_referenced_and_collected_after_stop(units):
    sb = units
    unit = "znetd-crash-backend.service"
    with BackgroundProbe(sb, f"watch {unit}", f"start-transient {unit} -- /bin/false",
                         f"await {unit} failed", f"state {unit}", "sleep 3000",
                         f"stop {unit}", "sleep 8000") as bg:
        start = bg.wait_for("start-transient")
        # Type=simple: "done" means forked, not that the program is still running.
        assert start["ok"] and start["result"] == "done", start
        bg.wait_for("await")
        state = bg.wait_for("state")
        assert state["ok"], state
        assert (state["load_state"], state["active_state"], state["sub_state"]) == \
            ("loaded", "failed", "failed"), state
        assert state["main_pid"] is None
        changes = [line for line in bg.lines if line["op"] == "change"]
        assert changes[-1]["active_state"] == "failed", changes

        # AddRef=true (systemd 252 knows it): the failed unit stays while the probe's
        # connection refers to it (the probe sleeps 3 s now), although
        # CollectMode=inactive-or-failed.
        props = sb.show(unit, "Refs", "ActiveState", "Result", "CollectMode")
        assert props["ActiveState"] == "failed"
        assert props["Result"] == "exit-code"
        assert props["Refs"].strip(), f"no bus reference on {unit}: {props}"
        assert listed(sb, unit)

        # stopUnit released the reference: the unit goes away while the probe is still
        # connected (in its second sleep).
        stop = bg.wait_for("stop")
        assert stop["ok"] and stop["result"] == "done", stop
        wait_until(lambda: not listed(sb, unit), 5, message=f"{unit} to be collected")


def test_start_and_stop_an_existing_unit(units):
    sb = units
    lines = probe(sb, f"watch {DEMO}", f"start {DEMO}", f"await {DEMO} active", f"state {DEMO}",
                  f"start {DEMO}")
    watch, start, active, state, again = results(lines)
    assert start["ok"] and start["result"] == "done", start
    assert state["ok"] and (state["load_state"], state["active_state"]) == ("loaded", "active")
    assert state["main_pid"] and state["main_pid"] > 0
    # Starting an active unit: a job that ends at once (JobRemoved may overtake the reply).
    assert again["ok"] and again["result"] == "done", again
    assert sb.is_active(DEMO) == "active"
    assert int(sb.show(DEMO, "MainPID")["MainPID"]) == state["main_pid"]

    lines = probe(sb, f"watch {DEMO}", f"await {DEMO} active", f"stop {DEMO}",
                  f"await {DEMO} inactive", f"state {DEMO}")
    stop, state = results(lines)[2], results(lines)[4]
    assert stop["ok"] and stop["result"] == "done", stop
    assert (state["active_state"], state["sub_state"], state["main_pid"]) == \
        ("inactive", "dead", None), state
    assert sb.is_active(DEMO) == "inactive"
    changes = [line for line in lines if line["op"] == "change"]
    assert changes[0]["active_state"] == "active", changes
    assert changes[-1]["active_state"] == "inactive", changes
    # States are reported whole: no "active" without a main PID, no "inactive" with one.
    for change in changes:
        if change["active_state"] == "active":
            assert change["main_pid"] is not None, changes
        if change["active_state"] in ("inactive", "failed"):
            assert change["main_pid"] is None, changes


def test_nonexistent_unit_gives_no_such_unit(units):
    start, stop = results(probe(units, "start znetd-nonexistent.service",
                                "stop znetd-nonexistent.service"))
    for line in (start, stop):
        assert not line["ok"], line
        assert line["kind"] == "bus", line
        assert line["bus_error"] == "org.freedesktop.systemd1.NoSuchUnit", line
    assert start["error"] == ("org.freedesktop.systemd1.NoSuchUnit: "
                              "Unit znetd-nonexistent.service not found."), start
    assert "znetd-nonexistent.service" in stop["error"]


def test_notify_unit_job_completes_only_after_ready(units, report):
    sb = units
    unit = "znetd-notify-backend.service"
    lines = probe(sb, f"start-transient {unit} Type:s=notify -- /usr/bin/python3 {NOTIFY_LATE} 1",
                  f"state {unit}", f"stop {unit}")
    start, state, stop = results(lines)
    assert start["ok"] and start["result"] == "done", start
    assert start["ms"] >= 1000, f"start job done after {start['ms']} ms, before READY=1"
    assert start["ms"] < 10000, start
    assert (state["active_state"], state["sub_state"]) == ("active", "running"), state
    assert stop["ok"], stop
    report(f"Type=notify start job done {start['ms']} ms after the call (READY=1 after 1 s)")

    # A notify program that exits before READY=1: the job fails, and says so.
    failing = "znetd-notify-fail-backend.service"
    lines = probe(sb, f"start-transient {failing} Type:s=notify -- /usr/bin/python3 "
                      f"{NOTIFY_LATE} 0.2 exit",
                  f"stop {failing}")
    start = results(lines)[0]
    assert not start["ok"] and start["kind"] == "job" and start["result"] == "failed", start
    assert start["error"] == f"job for {failing} finished with result 'failed'", start


def test_list_units_finds_backends(units):
    sb = units
    names = ["znetd-one-backend.service", "znetd-two-backend.service"]
    other = "znetd-other.service"
    ops = [f"start-transient {name} -- /bin/sleep 300" for name in names + [other]]
    lines = probe(sb, *ops, "list znetd-*-backend.service",
                  *[f"stop {name}" for name in names + [other]], "list znetd-*-backend.service")
    found = results(lines, "list")
    assert all(line["ok"] for line in found), found
    before = {unit["name"]: unit for unit in found[0]["units"]}
    assert set(names) <= set(before), before
    assert other not in before
    for name in names:
        assert (before[name]["load_state"], before[name]["active_state"]) == ("loaded", "active")
    assert all(line["ok"] for line in results(lines, "stop"))
    after = {unit["name"] for unit in found[1]["units"]}
    assert not (set(names) & after), after


def test_load_state_one_shot(units):
    loaded, missing = results(probe(units, f"load-state {DEMO}",
                                    "load-state znetd-missing.service"))
    assert loaded["ok"] and loaded["load_state"] == "loaded", loaded
    assert missing["ok"] and missing["load_state"] == "not-found", missing


def test_without_a_bus_requests_fail_gracefully(probe_bin):
    """On this host systemd is not PID 1 and there is no system bus (and the address is
    pointed at nothing, in case there is one)."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/znetd-test-bus")
    result = subprocess.run([str(probe_bin), "--timeout=10", "load-state foo.service",
                             "state foo.service", "start foo.service"],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0, result.stderr
    load, state, start = parse_lines(result.stdout)
    assert not load["ok"] and load["kind"] == "no-bus", load
    assert load["error"].startswith("cannot verify: no system bus"), load
    for line in (state, start):
        assert not line["ok"] and line["kind"] == "no-bus", line
        assert line["error"].startswith("cannot connect to the system bus: "), line


def dbus_pid(sb):
    return int(sb.show("dbus.service", "MainPID")["MainPID"])


def test_a_stalled_bus_does_not_block_the_loop(units, report):
    """dbus-daemon stopped (SIGSTOP) for 2 s while a request waits: the loop keeps running
    (its 10 ms timer keeps firing) and the request completes once the bus moves again."""
    sb = units
    pid = dbus_pid(sb)
    with BackgroundProbe(sb, f"state {DEMO}", "sleep 1000", f"state {DEMO}") as bg:
        bg.wait_for("state")
        sb.exec("kill", "-STOP", pid, check=True)
        try:
            time.sleep(3.0)
        finally:
            sb.exec("kill", "-CONT", pid, check=True)
        state = bg.wait_for("state")
    assert state["ok"] and state["load_state"] == "loaded", state
    assert state["ms"] >= 1000, f"the request did not wait for the stalled bus: {state}"
    assert state["ticks"] >= state["ms"] // 10 // 2, f"the loop stalled with the bus: {state}"
    report(f"request waited {state['ms']} ms on a stopped dbus-daemon; loop timer fired "
           f"{state['ticks']} times meanwhile")


def test_a_bus_that_does_not_answer_fails_requests_in_time(units):
    """A new connection to a stopped dbus-daemon (it accepts, never answers): requests fail
    after the call timeout instead of sd-bus's 90 s authentication timeout, and the one-shot
    check gives up after its own 3 s."""
    sb = units
    pid = dbus_pid(sb)
    sb.exec("kill", "-STOP", pid, check=True)
    try:
        lines = probe(sb, "--call-timeout=1", f"state {DEMO}", f"load-state {DEMO}", timeout=20)
    finally:
        sb.exec("kill", "-CONT", pid, check=True)
    state, load = results(lines)
    assert not state["ok"] and state["kind"] == "no-bus", state
    assert state["error"] == "cannot connect to the system bus: Connection timed out", state
    assert 900 <= state["ms"] < 5000, state
    assert state["ticks"] >= state["ms"] // 10 // 2, f"the loop stalled: {state}"
    assert not load["ok"] and load["kind"] == "no-bus", load
    assert load["error"] == "cannot verify: the system bus did not answer within 3000 ms", load
    assert 2900 <= load["ms"] < 8000, load


def test_bus_restart_fails_pending_job_and_watch_reconnects(units):
    """A job pending when dbus-daemon restarts fails with 'lost the connection'; the watch
    reconnects on its own and reports a change made after the restart."""
    sb = units
    slow = "znetd-slow-backend.service"
    sb.systemctl("stop", DEMO)
    with BackgroundProbe(sb, f"watch {DEMO}", f"await {DEMO} inactive",
                         f"start-transient {slow} Type:s=notify -- /usr/bin/python3 "
                         f"{NOTIFY_LATE} 20",
                         "sleep 7000", f"state {DEMO}", timeout=40) as bg:
        bg.wait_for("await")
        wait_until(lambda: sb.is_active(slow) == "activating", 5, message=f"{slow} activating")
        sb.systemctl("restart", "dbus.service")
        start = bg.wait_for("start-transient")
        assert not start["ok"] and start["kind"] == "disconnected", start
        assert start["error"].startswith("lost the connection to the system bus"), start

        # systemd registers on the new bus a moment later; the watch retries every second.
        wait_until(lambda: "true" in sb.exec(
            "busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
            "org.freedesktop.DBus", "NameHasOwner", "s", "org.freedesktop.systemd1").stdout,
            10, message="systemd back on the bus")
        time.sleep(2.5)
        sb.systemctl("start", DEMO)
        change = bg.wait_for("change", timeout=8, where=lambda line: line["active_state"] == "active")
        assert change["unit"] == DEMO
        state = bg.wait_for("state", timeout=15)
        assert state["ok"] and state["active_state"] == "active", state
    sb.systemctl("stop", DEMO, slow, check=False)
