"""On-demand backends: waking on the first connection.

The backend is ``ondemand/backend.py`` (a line echo answering ``PID:line``, logging
its events); znetd starts it as a child process when a client arrives and holds
clients until it is ready.
"""

import re
import socket
import threading
import time

from conftest import (
    ask,
    ask_once,
    connect,
    free_port,
    on_demand_config,
    proc_stat,
    processes_with_arg,
    wait_status,
)


def test_not_started_until_first_connection(start_znetd, on_demand):
    """Nothing runs before a client arrives: no ``start`` event and no backend process
    while znetd listens.  The first client's line then reaches the backend and comes
    back echoed with the backend's pid; that process is a child of znetd in its own
    process group (so stop signals can go to the whole group)."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv}}),
        ready=[listen],
    )
    time.sleep(0.7)
    assert backend.log.count("start") == 0, f"backend started without a client:\n{backend.log.text()}"
    assert not processes_with_arg(str(backend.log.path)), "a backend process runs before any client"

    started = time.monotonic()
    pid, echoed = ask_once(listen, "first words")
    print(f"first client served after {time.monotonic() - started:.3f}s")
    assert echoed == "first words"
    assert backend.log.pids("start") == [pid], backend.log.text()
    assert backend.log.count("serve", pid) == 1
    stat = proc_stat(pid)
    assert stat is not None and stat.ppid == daemon.pid, \
        f"backend {pid} has parent {stat and stat.ppid}, znetd is {daemon.pid}"
    assert stat.pgrp == pid, f"backend {pid} is in process group {stat.pgrp}, not its own"


def test_simultaneous_clients_one_launch(start_znetd, on_demand):
    """Three clients connecting at the same moment to a sleeping service (the backend
    takes 0.5 s to listen): all three are held and served by the same process, which
    was started exactly once."""
    backend = on_demand.backend("--delay", "0.5")
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv}}),
        ready=[listen],
    )
    barrier = threading.Barrier(3)
    results = [None] * 3

    def client(i):
        try:
            with connect(listen, timeout=10) as sock:
                barrier.wait(5)
                results[i] = ask(sock, f"client {i}")
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    for i, result in enumerate(results):
        assert isinstance(result, tuple), f"client {i} not served: {result!r}"
        assert result[1] == f"client {i}"
    pids = {r[0] for r in results}
    assert len(pids) == 1, f"clients served by different processes {pids}"
    assert backend.log.count("start") == 1, f"more than one launch:\n{backend.log.text()}"
    assert backend.log.count("serve") == 3


def test_two_services_start_independently(start_znetd, on_demand):
    """Two on-demand services: a client of ``alpha`` starts only alpha's backend;
    ``beta``'s starts only when its own port is used, as a different process."""
    alpha = on_demand.backend(name="alpha")
    beta = on_demand.backend(name="beta")
    la, lb = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({
            "alpha": {"listen": la, "target": alpha.addr, "command": alpha.argv},
            "beta": {"listen": lb, "target": beta.addr, "command": beta.argv},
        }),
        ready=[la, lb],
    )
    pid_a, _ = ask_once(la, "to alpha")
    time.sleep(0.5)
    assert alpha.log.pids("start") == [pid_a]
    assert beta.log.count("start") == 0, f"beta started by a client of alpha:\n{beta.log.text()}"
    assert not processes_with_arg(str(beta.log.path)), "a beta process runs"

    pid_b, echoed = ask_once(lb, "to beta")
    assert echoed == "to beta"
    assert pid_b != pid_a
    assert beta.log.pids("start") == [pid_b]
    assert alpha.log.count("start") == 1, "alpha started again by a client of beta"


def test_environment_working_directory_and_output(start_znetd, on_demand, tmp_path):
    """``environment`` and ``working_directory`` apply to the backend; its stdout and
    stderr lines appear in znetd's stderr; znetd's own $NOTIFY_SOCKET (its
    supervisor's) is not passed on to a backend that is not ``ready: notify``."""
    workdir = tmp_path / "wd"
    workdir.mkdir()
    backend = on_demand.backend("--log-env", "ODT_GREETING", "--log-env", "ODT_NUMBER",
                                "--log-env", "NOTIFY_SOCKET")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=on_demand_config({"app": {
            "listen": listen, "target": backend.addr, "command": backend.argv,
            "environment": {"ODT_GREETING": "hello world", "ODT_NUMBER": "42"},
            "working_directory": str(workdir),
        }}),
        ready=[listen],
    )
    pid, _ = ask_once(listen, "env")
    env = {e.args[0].partition("=")[0]: " ".join(e.args) for e in backend.log.events("env", pid)}
    assert env.get("ODT_GREETING") == "ODT_GREETING=hello world", backend.log.text()
    assert env.get("ODT_NUMBER") == "ODT_NUMBER=42", backend.log.text()
    assert env.get("NOTIFY_SOCKET") != f"NOTIFY_SOCKET={daemon.notify.path}", \
        "znetd passed its own NOTIFY_SOCKET to the backend"
    cwd = backend.log.events("cwd", pid)
    assert cwd and cwd[0].args[0] == str(workdir), backend.log.text()
    daemon.wait_stderr(rf"backend\.py\[{pid}\] stdout says hello", timeout=5)
    daemon.wait_stderr(rf"backend\.py\[{pid}\] stderr says hello", timeout=5)


def test_shell_command_string(start_znetd, on_demand):
    """``command`` as a string with ``shell: true`` runs through the shell: the port
    comes from a variable of ``environment`` expanded by the shell, and the served
    reply comes from the exec'd backend."""
    backend = on_demand.backend()
    # backend.argv = python3 backend.py --port P --log L: let the shell expand the port.
    argv = list(backend.argv)
    argv[argv.index("--port") + 1] = '"$ODT_PORT"'
    command = "exec " + " ".join(a if a.startswith('"') else f"'{a}'" for a in argv)
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {
            "listen": listen, "target": backend.addr, "command": command, "shell": True,
            "environment": {"ODT_PORT": str(backend.port)},
        }}),
        ready=[listen],
    )
    pid, echoed = ask_once(listen, "via sh")
    assert echoed == "via sh"
    assert backend.log.pids("start") == [pid]


def test_slow_start_within_start_timeout(start_znetd, on_demand):
    """A backend that needs 4 s to listen, ``start_timeout: 6s``: the client is held
    (neither refused nor closed) and served after about 4 s."""
    backend = on_demand.backend("--delay", "4")
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv, "start_timeout": "6s"}}),
        ready=[listen],
    )
    started = time.monotonic()
    with connect(listen, timeout=10) as sock:
        pid, echoed = ask(sock, "patience")
    elapsed = time.monotonic() - started
    assert echoed == "patience"
    assert 3.8 <= elapsed <= 6.0, f"served after {elapsed:.2f}s; the backend listens after 4 s"
    assert backend.log.pids("start") == [pid]


def test_wait_after_start_delays_release(start_znetd, on_demand):
    """``wait_after_start: 1s``: the held client is let through about 1 s after the
    backend became ready (it listens at once), not as soon as it accepts."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv, "wait_after_start": "1s"}}),
        ready=[listen],
    )
    pid, _ = ask_once(listen, "settled")
    served = backend.log.events("serve", pid)[0].time
    listening = backend.log.events("listening", pid)[0].time
    assert served - listening >= 0.9, \
        f"served {served - listening:.2f}s after the backend listened (wait_after_start 1s)"


def test_auto_start_without_a_client(start_znetd, on_demand):
    """``auto_start: true``: the backend is started when znetd starts, before any
    client, and the first client is served by that same process."""
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv, "auto_start": True}}),
        ready=[listen],
    )
    started = backend.log.wait_for("ready", timeout=5)
    assert backend.log.count("serve") == 0
    pid, _ = ask_once(listen, "was it up?")
    assert pid == started.pid
    assert backend.log.count("start") == 1


def test_ready_notify_waits_for_ready_1(start_znetd, on_demand):
    """``ready: notify``: the backend listens at once but sends READY=1 to its
    $NOTIFY_SOCKET (an abstract address) only 1 s later.  The held client is served
    only after READY=1 (>= 0.9 s, and the backend logs ``ready`` before it serves),
    where a TCP probe would have let it through at once."""
    backend = on_demand.backend("--notify", "--notify-delay", "1", "--log-env", "NOTIFY_SOCKET")
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv, "ready": "notify",
                                         "start_timeout": "10s"}}),
        ready=[listen],
    )
    started = time.monotonic()
    pid, echoed = ask_once(listen, "notified")
    elapsed = time.monotonic() - started
    assert echoed == "notified"
    assert elapsed >= 0.9, f"served {elapsed:.2f}s after connecting, before READY=1 (1 s)"
    env = backend.log.events("env", pid)
    assert env and env[0].args[0].startswith("NOTIFY_SOCKET=@"), \
        f"NOTIFY_SOCKET is not an abstract address: {env}"
    listening, ready, serve = (backend.log.index(k, pid) for k in ("listening", "ready", "serve"))
    assert None not in (listening, ready, serve), backend.log.text()
    assert listening < ready < serve, f"events out of order:\n{backend.log.text()}"
    t_listen = backend.log.events("listening", pid)[0].time
    t_ready = backend.log.events("ready", pid)[0].time
    assert t_ready - t_listen >= 0.9, "the backend did not listen well before READY=1"


def test_ready_exec_command(start_znetd, on_demand, tmp_path):
    """``ready: exec:/abs/script ARG``: the client stays held while the script exits
    non-zero (a flag file is missing, though the backend already listens), and is
    served once the test creates the flag."""
    flag = tmp_path / "ready.flag"
    check = on_demand.script("ready-check.sh", """
        #!/bin/sh
        test -e "$1"
        """)
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv,
                                         "ready": f"exec:{check} {flag}",
                                         "start_timeout": "10s"}}),
        ready=[listen],
    )
    with connect(listen, timeout=10) as sock:
        sock.sendall(b"gated\n")
        backend.log.wait_for("listening", timeout=5)
        sock.settimeout(1.0)
        try:
            early = sock.recv(100)
        except socket.timeout:
            early = None
        assert early is None, f"answered before the readiness command succeeded: {early!r}"
        flag.touch()
        sock.settimeout(5)
        reply = sock.recv(100)
    assert re.fullmatch(rb"\d+:gated\n", reply), f"reply {reply!r} after the flag was created"


def test_wake_record_and_status(start_znetd, on_demand):
    """The wake-up is logged as ``backend ready after ...`` with ``wake_usec=`` (at
    least the backend's 0.3 s start delay) and ``launcher=process``; STATUS= shows
    ``app: asleep`` at start, ``app: ready (1 client)`` while a client is connected,
    and ``app: asleep`` again after the idle stop."""
    backend = on_demand.backend("--delay", "0.3")
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": backend.addr,
                                         "command": backend.argv, "stop_after": "1s"}}),
        ready=[listen],
    )
    notify = daemon.notify
    wait_status(notify, r"\bapp: asleep\b(?! \()", timeout=5)
    with connect(listen, timeout=10) as sock:
        ask(sock, "hello")
        line = daemon.wait_stderr(r"^.*backend ready after.*$", timeout=5).group(0)
        wake = re.search(r"\bwake_usec=(\d+)", line)
        assert wake, f"no wake_usec= in {line!r}"
        assert 300_000 <= int(wake.group(1)) <= 5_000_000, f"implausible wake time in {line!r}"
        assert re.search(r"\blauncher=process\b", line), f"no launcher=process in {line!r}"
        mark = notify.mark()
        wait_status(notify, r"\bapp: ready \(1 client\)", timeout=3, start=mark)
        ask(sock, "still here")
    mark = notify.mark()
    daemon.wait_stderr(r"stopping backend: idle for 1s", timeout=4)
    daemon.wait_stderr(r"backend stopped", timeout=4)
    wait_status(notify, r"\bapp: asleep\b(?! \()", timeout=3, start=mark)
