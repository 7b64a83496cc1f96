"""sd_notify: READY, STATUS, WATCHDOG, RELOADING and STOPPING on $NOTIFY_SOCKET."""

import re
import signal
import time

import pytest

from conftest import echo_round_trip, free_port


def two_proxies(backends):
    """Arguments for two ``--proxy`` services to one echo backend, and their addresses."""
    echo = backends.echo()
    addrs = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    args = []
    for addr in addrs:
        args += ["--proxy", f"{addr} {echo.addr}"]
    return args, addrs


def test_ready_status_reloading_stopping(start_znetd, backends):
    """The notification sequence of a daemon's life, sent by znetd's own pid.

    READY=1 once it listens (the ports accept when READY arrives); a STATUS= naming
    the services (2) and connections; on SIGHUP RELOADING=1 followed by READY=1; on
    SIGTERM STOPPING=1, then exit 0.
    """
    args, addrs = two_proxies(backends)
    daemon = start_znetd(args=args)
    notify = daemon.notify
    ready = daemon.wait_ready(10)
    for addr in addrs:
        assert echo_round_trip(addr, b"up") == b"up", f"READY=1 sent before {addr} accepts"
    assert notify.message(ready).pid == daemon.pid, \
        f"READY=1 sent by pid {notify.message(ready).pid}, znetd is {daemon.pid}"

    notify.wait_for_prefix("STATUS=", timeout=5)
    statuses = [l for l in notify.lines() if l.startswith("STATUS=")]
    assert any(
        "service" in s.lower() and "connection" in s.lower() and re.search(r"\b2\b", s)
        for s in statuses
    ), f"no STATUS mentions the 2 services and the connections: {statuses}"

    mark = notify.mark()
    daemon.signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING=1", timeout=5, start=mark)
    notify.wait_for("READY=1", timeout=5, start=reloading + 1)
    assert daemon.alive()

    mark = notify.mark()
    daemon.signal(signal.SIGTERM)
    notify.wait_for("STOPPING=1", timeout=5, start=mark)
    assert daemon.wait_exit(10) == 0


@pytest.mark.parametrize("watchdog_pid", ["unset", "own pid"])
def test_watchdog_pings(start_znetd, backends, watchdog_pid):
    """WATCHDOG_USEC=200000: WATCHDOG=1 at half the interval (100 ms), so at least 3
    pings in 1 s.  Also when WATCHDOG_PID names znetd's own pid (set by a shell that
    then execs znetd)."""
    args, _addrs = two_proxies(backends)
    wrap = None
    if watchdog_pid == "own pid":
        wrap = ["sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', "sh"]
    daemon = start_znetd(args=args, env={"WATCHDOG_USEC": "200000"}, wrap=wrap)
    daemon.wait_ready(10)
    if wrap:
        daemon.wait_exec()
    mark = daemon.notify.mark()
    time.sleep(1.0)
    pings = daemon.notify.count("WATCHDOG=1", start=mark)
    assert pings >= 3, f"{pings} WATCHDOG=1 in 1 s with WATCHDOG_USEC=200000"
    senders = {m.pid for m in daemon.notify.messages[mark:] if m.line == "WATCHDOG=1"}
    assert senders == {daemon.pid}, f"watchdog pings from pids {senders}, znetd is {daemon.pid}"
