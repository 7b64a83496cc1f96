"""On-demand backends: stopping an idle backend (``stop_after``), and waking it again.

The backend is ``ondemand/backend.py``; its event log records ``stop PID SIGNAL`` when
a stop signal arrives and ``exit PID CODE REASON`` when it exits, each with the
monotonic time, so the tests measure when znetd acted.
"""

import time

from conftest import (
    ask,
    ask_once,
    connect,
    free_port,
    on_demand_config,
    proc_stat,
    process_gone,
    wait_until,
    zombie_children,
)


def service(backend, listen, **keys):
    return on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                     "command": backend.argv, **keys}})


def test_idle_stop_after_last_client(start_znetd, on_demand):
    """``stop_after: 1s``: a client that stays connected for 2.5 s (talking now and
    then) keeps the backend up; about 1 s after it leaves the backend gets SIGTERM
    (``stop PID TERM``), exits, and znetd logs the idle stop and ``backend stopped``."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(config=service(backend, listen, stop_after="1s"), ready=[listen])
    with connect(listen, timeout=10) as sock:
        pid, _ = ask(sock, "one")
        for text in ("two", "three"):
            time.sleep(1.25)
            assert ask(sock, text) == (pid, text)
            assert backend.log.count("stop") == 0, \
                f"backend stopped while a client was connected:\n{backend.log.text()}"
        left = time.monotonic()
    stop = backend.log.wait_for("stop", pid, timeout=4)
    delay = stop.time - left
    assert stop.args == ["TERM"], f"stopped with {stop.args}, stop_signal defaults to TERM"
    assert 0.8 <= delay <= 2.5, f"stopped {delay:.2f}s after the last client left (stop_after 1s)"
    backend.log.wait_for("exit", pid, timeout=3)
    wait_until(lambda: process_gone(pid, daemon.pid), 3, message=f"backend {pid} to be reaped")
    daemon.wait_stderr(r"stopping backend: idle for 1s", timeout=3)
    daemon.wait_stderr(r"backend stopped", timeout=3)


def test_new_client_resets_idle_timer(start_znetd, on_demand):
    """A client that comes and goes 0.6 s into a 1 s idle period restarts the count:
    the backend is still up 1.3 s after the first client left and is stopped about
    1 s after the second one left."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(config=service(backend, listen, stop_after="1s"), ready=[listen])
    pid, _ = ask_once(listen, "first")
    first_left = time.monotonic()
    time.sleep(0.6)
    assert ask_once(listen, "second")[0] == pid
    second_left = time.monotonic()
    time.sleep(max(0.0, first_left + 1.3 - time.monotonic()))
    assert backend.log.count("stop") == 0, \
        f"stopped 1 s after the first client although a second came:\n{backend.log.text()}"
    stop = backend.log.wait_for("stop", pid, timeout=4)
    delay = stop.time - second_left
    assert 0.8 <= delay <= 2.5, f"stopped {delay:.2f}s after the second client left"


def test_two_listen_addresses_share_one_backend(start_znetd, on_demand):
    """One service listening on two ports: clients on both are served by one
    backend started once; the idle count is per service, so the backend is not
    stopped while the client on the second port remains (1.8 s after the first
    left), and is stopped about 1 s after it leaves too."""
    backend = on_demand.backend()
    l1, l2 = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    daemon = start_znetd(config=service(backend, [l1, l2], stop_after="1s"), ready=[l1, l2])
    with connect(l1, timeout=10) as s1, connect(l2, timeout=10) as s2:
        pid1, _ = ask(s1, "port one")
        pid2, _ = ask(s2, "port two")
        assert pid1 == pid2, "the two ports of one service started two backends"
        s1.close()
        time.sleep(1.8)
        assert backend.log.count("stop") == 0, \
            f"stopped while a client remained on the other port:\n{backend.log.text()}"
        assert ask(s2, "still") == (pid1, "still")
        left = time.monotonic()
    stop = backend.log.wait_for("stop", pid1, timeout=4)
    assert 0.8 <= stop.time - left <= 2.5, f"stopped {stop.time - left:.2f}s after the last client"
    assert backend.log.count("start") == 1
    assert daemon.alive()


def test_min_uptime_defers_idle_stop(start_znetd, on_demand):
    """``min_uptime: 2s`` with ``stop_after: 500ms``: a client that leaves at once
    does not get the backend stopped before it has been up 2 s; it is stopped soon
    after that."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(config=service(backend, listen, stop_after="500ms", min_uptime="2s"),
                ready=[listen])
    pid, _ = ask_once(listen, "brief")
    ready = backend.log.events("ready", pid)[0].time
    stop = backend.log.wait_for("stop", pid, timeout=5)
    uptime = stop.time - ready
    assert 1.9 <= uptime <= 3.5, f"stopped {uptime:.2f}s after it became ready (min_uptime 2s)"


def test_grandchild_killed_with_process_group(start_znetd, on_demand):
    """The stop signal goes to the backend's whole process group: the ``sleep 300``
    the backend spawned is gone after the idle stop too."""
    backend = on_demand.backend("--grandchild")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(config=service(backend, listen, stop_after="500ms"), ready=[listen])
    pid, _ = ask_once(listen, "hi")
    grandchild = int(backend.log.wait_for("grandchild", pid).args[0])
    stat = proc_stat(grandchild)
    assert stat is not None and stat.state != "Z", "the grandchild is not running"
    assert stat.pgrp == pid, f"grandchild in group {stat.pgrp}, backend is {pid}"
    backend.log.wait_for("stop", pid, timeout=4)
    wait_until(lambda: process_gone(pid, daemon.pid), 3, message=f"backend {pid} gone")
    wait_until(lambda: process_gone(grandchild, daemon.pid), 3,
               message=f"grandchild {grandchild} killed with the backend's process group")


def test_stop_signal_then_sigkill_after_stop_timeout(start_znetd, on_demand):
    """``stop_signal: INT``, ``stop_timeout: 1s`` and a backend that ignores it: it
    receives SIGINT (``stop PID INT``), is SIGKILLed about 1 s later (it never logs an
    exit of its own), znetd logs ``backend stopped``, and the next client starts a
    new backend."""
    backend = on_demand.backend("--ignore-term-for", "30")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=service(backend, listen, stop_after="500ms", stop_signal="INT",
                       stop_timeout="1s"),
        ready=[listen],
    )
    pid, _ = ask_once(listen, "hi")
    stop = backend.log.wait_for("stop", pid, timeout=4)
    assert stop.args == ["INT"], f"stop signal {stop.args}, configured INT"
    wait_until(lambda: process_gone(pid, daemon.pid), 4, interval=0.02,
               message=f"backend {pid} killed after stop_timeout")
    killed = time.monotonic()
    assert 0.7 <= killed - stop.time <= 2.5, \
        f"killed {killed - stop.time:.2f}s after the stop signal (stop_timeout 1s)"
    assert backend.log.count("exit", pid) == 0, "the backend exited by itself: not a SIGKILL"
    daemon.wait_stderr(r"backend stopped", timeout=3)
    pid2, _ = ask_once(listen, "again")
    assert pid2 != pid


def test_three_wake_sleep_cycles(start_znetd, on_demand):
    """Three rounds of client, idle stop, client: each round is served by a new
    process, started once and stopped once, and znetd leaves no zombie children."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(config=service(backend, listen, stop_after="500ms"), ready=[listen])
    pids = []
    for round_ in range(1, 4):
        pid, echoed = ask_once(listen, f"round {round_}")
        assert echoed == f"round {round_}"
        pids.append(pid)
        backend.log.wait_for("exit", pid, timeout=4)
        wait_until(lambda: len(daemon.stderr_text().lower().split("backend stopped")) > round_,
                   3, message=f"'backend stopped' #{round_}")
    assert len(set(pids)) == 3, f"rounds served by {pids}"
    assert backend.log.pids("start") == pids
    assert [e.pid for e in backend.log.events("stop")] == pids
    wait_until(lambda: not zombie_children(daemon.pid), 2,
               message=f"no zombie children of znetd (have {zombie_children(daemon.pid)})")


def test_client_during_slow_stop_gets_fresh_start(start_znetd, on_demand):
    """A backend that takes 1.5 s to stop after SIGTERM (still listening meanwhile): a
    client arriving right after the stop began is held, not forwarded to the stopping
    process, and served by a new process started after the old one exited."""
    backend = on_demand.backend("--ignore-term-for", "1.5")
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(config=service(backend, listen, stop_after="500ms"), ready=[listen])
    old, _ = ask_once(listen, "before")
    backend.log.wait_for("stop", old, timeout=4)
    with connect(listen, timeout=10) as sock:
        new, echoed = ask(sock, "during the stop")
    assert echoed == "during the stop"
    assert new != old, "the client was served by the backend that was stopping"
    exited = backend.log.index("exit", old)
    started = backend.log.index("start", new)
    assert exited is not None and started is not None and exited < started, \
        f"new backend started before the old one exited:\n{backend.log.text()}"
