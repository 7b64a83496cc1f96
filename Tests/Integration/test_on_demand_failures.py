"""On-demand backends that die, crash, start too slowly or are swamped; and the
configuration errors ``znetd check`` reports for on-demand services."""

import os
import re
import signal
import socket
import time

import pytest

from conftest import (
    ONDEMAND_BACKEND,
    ask_once,
    connect,
    cpu_seconds,
    free_port,
    on_demand_config,
    process_gone,
    processes_with_arg,
    wait_status,
    wait_until,
    zombie_children,
)


def service(backend, listen, **keys):
    return on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                     "command": backend.argv, **keys}})


def refused_by_znetd(addr, text="anyone?", timeout=5.0):
    """Connect and send a line; return how long until znetd closed the connection
    without an answer.  AssertionError if it answered or stayed open."""
    started = time.monotonic()
    with connect(addr, timeout=timeout) as sock:
        try:
            sock.sendall(text.encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
        sock.settimeout(timeout)
        try:
            data = sock.recv(100)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise AssertionError(f"connection still open after {timeout}s") from None
    assert data == b"", f"the client was answered: {data!r}"
    return time.monotonic() - started


def test_killed_backend_is_relaunched_and_reaped(start_znetd, on_demand):
    """SIGKILL of a running backend: znetd reaps it (no zombie child), logs that the
    next connection starts it again, and the next client is served by a new process."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(config=service(backend, listen), ready=[listen])
    first, _ = ask_once(listen, "before")
    os.kill(first, signal.SIGKILL)
    daemon.wait_stderr(r"backend exited.*the next connection starts it again", timeout=5)
    wait_until(lambda: process_gone(first, daemon.pid) and not zombie_children(daemon.pid), 3,
               message=f"the killed backend {first} to be reaped "
                       f"(zombies of znetd: {zombie_children(daemon.pid)})")
    second, echoed = ask_once(listen, "after")
    assert echoed == "after"
    assert second != first
    assert backend.log.pids("start") == [first, second]


def test_crash_loop_refuses_clients_without_spinning(start_znetd, on_demand):
    """A backend that exits 3 at once, ``start_limit_burst: 3`` within 10 s: each of
    the first three clients causes one start and is closed without an answer; after
    that clients are closed at once without a new start, stderr says ``crash loop``,
    STATUS= too, and znetd does not spin (little CPU over 2 s)."""
    backend = on_demand.backend("--crash")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=service(backend, listen, start_limit_burst=3, start_limit_interval="10s",
                       start_timeout="5s"),
        ready=[listen],
    )
    for attempt in range(1, 4):
        refused_by_znetd(listen, f"attempt {attempt}")
        backend.log.wait_for("exit", count=attempt, timeout=3)
        time.sleep(0.2)  # let znetd notice the exit and go back to sleep
    assert backend.log.count("start") == 3, backend.log.text()

    took = refused_by_znetd(listen, "attempt 4")
    assert took < 0.5, f"a client in the crash loop was closed only after {took:.2f}s"
    daemon.wait_stderr(r"crash loop", timeout=3)
    wait_status(daemon.notify, r"\bapp: crash loop\b", timeout=3)

    before = cpu_seconds(daemon.pid)
    time.sleep(1.0)
    assert refused_by_znetd(listen, "attempt 5") < 0.5
    time.sleep(1.0)
    used = cpu_seconds(daemon.pid) - before
    assert used < 0.3, f"znetd used {used:.2f}s of CPU in 2 s of crash loop"
    assert backend.log.count("start") == 3, f"started during the crash loop:\n{backend.log.text()}"
    wait_until(lambda: not zombie_children(daemon.pid), 2,
               message=f"no zombie children (have {zombie_children(daemon.pid)})")
    # The backend's own output reached znetd's stderr.
    daemon.wait_stderr(r"crashing on purpose", timeout=2)


def test_crash_loop_ends_when_the_interval_has_passed(start_znetd, on_demand):
    """``start_limit_burst: 2`` within 2 s: after the burst clients are refused, but once the
    interval since the first start has passed the next client triggers a new start."""
    backend = on_demand.backend("--crash")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=service(backend, listen, start_limit_burst=2, start_limit_interval="2s",
                       start_timeout="5s"),
        ready=[listen],
    )
    first = time.monotonic()
    for attempt in range(1, 3):
        refused_by_znetd(listen, f"attempt {attempt}")
        backend.log.wait_for("exit", count=attempt, timeout=3)
        time.sleep(0.2)
    refused_by_znetd(listen, "in the loop")
    daemon.wait_stderr(r"crash loop", timeout=3)
    assert backend.log.count("start") == 2, backend.log.text()

    time.sleep(max(0.0, first + 2.3 - time.monotonic()))
    refused_by_znetd(listen, "after the interval")
    backend.log.wait_for("start", count=3, timeout=3)


def test_max_pending_closes_the_surplus(start_znetd, on_demand):
    """``max_pending: 2`` while the backend takes 1.5 s to listen: of four clients the
    first two are held and served by one backend; the other two are closed at once
    and znetd logs ``max_pending``."""
    backend = on_demand.backend("--delay", "1.5")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(config=service(backend, listen, max_pending=2), ready=[listen])
    held = []
    try:
        for i in range(2):
            sock = connect(listen, timeout=10)
            held.append(sock)
            sock.sendall(f"held {i}\n".encode())
            time.sleep(0.15)
        for i in range(2):
            took = refused_by_znetd(listen, f"surplus {i}", timeout=1.2)
            assert took < 0.8, f"surplus client {i} closed only after {took:.2f}s"
        daemon.wait_stderr(r"max_pending", timeout=2)
        pids = set()
        for i, sock in enumerate(held):
            sock.settimeout(6)
            line = sock.recv(100)
            assert re.fullmatch(rb"(\d+):held %d\n" % i, line), f"held client {i} got {line!r}"
            pids.add(int(line.split(b":")[0]))
    finally:
        for sock in held:
            sock.close()
    assert len(pids) == 1
    assert backend.log.count("start") == 1
    assert backend.log.count("serve") == 2, "a surplus client reached the backend"


def test_start_timeout_then_reload(start_znetd, on_demand):
    """``start_timeout: 10ms`` with a backend that needs 1 s: the held client is
    closed soon without an answer, znetd logs that the backend was not ready within
    start_timeout and stops it.  After rewriting the config with 6s and SIGHUP, the
    next client is served."""
    backend = on_demand.backend("--delay", "1")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(config=service(backend, listen, start_timeout="10ms"), ready=[listen])
    took = refused_by_znetd(listen, "too soon", timeout=3)
    assert took < 0.9, f"closed after {took:.2f}s; start_timeout is 10ms"
    daemon.wait_stderr(r"cannot wake backend: not ready within start_timeout", timeout=3)
    # The backend may be stopped before it even logged its start: look for its process.
    wait_until(lambda: not processes_with_arg(str(backend.log.path)), 3,
               message="the backend that missed start_timeout to be stopped")

    notify = daemon.notify
    mark = notify.mark()
    daemon.write_config(service(backend, listen, start_timeout="6s"))
    daemon.signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING=1", timeout=5, start=mark)
    notify.wait_for("READY=1", timeout=5, start=reloading + 1)
    pid, echoed = ask_once(listen, "now in time")
    assert echoed == "now in time"
    assert backend.log.pids("start")[-1] == pid


# --------------------------------------------------------------------------------------
# znetd check
# --------------------------------------------------------------------------------------

def check_config(**keys):
    listen, target = free_port(), free_port()
    argv = ["python3", str(ONDEMAND_BACKEND), "--port", str(target), "--log", "/dev/null"]
    app = {"listen": f"127.0.0.1:{listen}", "target": f"127.0.0.1:{target}",
           "command": argv, "stop_after": "1s"}
    app.update(keys)
    return on_demand_config({"app": app})


CHECK_CASES = {
    "missing executable": (
        {"command": ["/nonexistent/znetd-no-such-backend", "--serve"]},
        {"command": ["/bin/true", "--serve"]},
        [r"cannot (run|execute)|not found|No such file", r"znetd-no-such-backend"],
    ),
    "unknown program name": (
        {"command": ["znetd-no-such-program-on-path"]},
        {"command": ["true"]},
        [r"cannot run|not found", r"znetd-no-such-program-on-path"],
    ),
    "bad stop_signal": (
        {"stop_signal": "TERMINATE"},
        {"stop_signal": "TERM"},
        [r"stop_signal", r"TERMINATE"],
    ),
    "relative ready exec": (
        {"ready": "exec:relative/path"},
        {"ready": "exec:/bin/true"},
        [r"\bready\b", r"relative/path|absolute"],
    ),
}


@pytest.mark.parametrize("case", list(CHECK_CASES))
def test_check_rejects_bad_on_demand_settings(run_cli, write_file, case):
    """``znetd check`` exits 1 with a message naming the problem for: a command whose
    executable does not exist (by path, or a bare name not on PATH), a stop_signal
    that is not a signal, and a relative ``ready: exec:`` program.  The same config
    with a good value passes (so the keys themselves are understood)."""
    bad, good, patterns = CHECK_CASES[case]
    ok = run_cli("check", "--config", write_file("good.yaml", check_config(**good)))
    assert ok.returncode == 0, f"the valid variant was rejected:\n{ok.stderr}"

    result = run_cli("check", "--config", write_file("bad.yaml", check_config(**bad)))
    assert result.returncode == 1, f"exit {result.returncode} for {case}\n{result.stderr}"
    assert "unknown key" not in result.stderr, result.stderr
    for pattern in patterns:
        assert re.search(pattern, result.stderr, re.IGNORECASE), \
            f"stderr does not match /{pattern}/:\n{result.stderr}"
