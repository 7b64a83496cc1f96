"""On-demand backends that take the listening socket (``hand_off``), and backends
started and stopped by hook commands (``hooks``)."""

import time

from conftest import (
    ask,
    ask_once,
    connect,
    established_tcp,
    free_port,
    on_demand_config,
    process_gone,
    wait_until,
    zombie_children,
)


def test_hand_off_backend_serves_the_listening_socket(start_znetd, on_demand):
    """``hand_off: true``: the first client's connection stays in the backlog for the
    backend, which receives the listening socket as fd 3 (LISTEN_FDS=1,
    LISTEN_PID = its own pid, LISTEN_FDNAMES=app) and answers itself; znetd holds no
    connection meanwhile.  When the backend exits after 1 s without clients, the next
    connection starts a new one."""
    target = free_port()
    backend = on_demand.backend("--listen-fds", "--idle-exit", "1", port=target)
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=on_demand_config({"app": {"listen": listen, "target": f"127.0.0.1:{target}",
                                         "command": backend.argv, "hand_off": True}}),
        ready=[listen],
    )
    with connect(listen, timeout=10) as sock:
        pid, echoed = ask(sock, "first")
        assert echoed == "first"
        assert backend.log.count("handoff-error") == 0, backend.log.text()
        handoff = backend.log.events("handoff", pid)
        assert [e.args for e in handoff] == [["app"]], \
            f"fds handed to {pid}: {backend.log.text()}"
        assert backend.log.pids("start") == [pid]
        relayed = established_tcp(daemon.pid)
        assert not relayed, f"znetd holds connections while the backend serves: {relayed}"
        assert ask(sock, "second") == (pid, "second")
    backend.log.wait_for("exit", pid, timeout=4)
    wait_until(lambda: process_gone(pid, daemon.pid), 3, message=f"backend {pid} reaped")
    assert not zombie_children(daemon.pid)

    again, echoed = ask_once(listen, "after the exit")
    assert echoed == "after the exit"
    assert again != pid, "served by the backend that had exited?"
    assert [e.args for e in backend.log.events("handoff", again)] == [["app"]]
    assert backend.log.pids("start") == [pid, again]


def hook_scripts(on_demand, backend, tmp_path):
    """start/stop (and check) hook scripts driving ``backend`` outside znetd's
    children: start launches it detached and returns, stop kills it by its pid file.
    Each appends its name to ``hooks.log``."""
    hooks_log = tmp_path / "hooks.log"
    pidfile = tmp_path / "backend.pid"
    upfile = tmp_path / "up.flag"
    argv = " ".join(f"'{a}'" for a in backend.argv + ["--pidfile", str(pidfile)])
    start = on_demand.script("start-hook.sh", f"""
        #!/bin/sh
        echo start >> '{hooks_log}'
        setsid nohup {argv} > '{tmp_path}/hooked-backend.out' 2>&1 < /dev/null &
        exit 0
        """)
    stop = on_demand.script("stop-hook.sh", f"""
        #!/bin/sh
        echo stop >> '{hooks_log}'
        kill -TERM "$(cat '{pidfile}')"
        """)
    check = on_demand.script("check-hook.sh", f"""
        #!/bin/sh
        echo check >> '{hooks_log}'
        test -e '{upfile}'
        """)
    return hooks_log, pidfile, upfile, str(start), str(stop), str(check)


def hook_lines(hooks_log):
    try:
        return hooks_log.read_text().split()
    except FileNotFoundError:
        return []


def test_hooks_start_and_stop(start_znetd, on_demand, tmp_path):
    """``hooks: {start, stop}``: nothing runs before a client; the first client runs
    the start hook once (it launches the backend detached and exits 0), is held until
    the target answers and served by that backend (``launcher=hooks`` in the wake
    record); after ``stop_after`` the stop hook runs and the backend gets SIGTERM."""
    backend = on_demand.backend()
    hooks_log, pidfile, _up, start, stop, _check = hook_scripts(on_demand, backend, tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=on_demand_config({"app": {
            "listen": listen, "target": backend.addr,
            "hooks": {"start": ["/bin/sh", start], "stop": ["/bin/sh", stop]},
            "stop_after": "1s",
        }}),
        ready=[listen],
    )
    time.sleep(0.5)
    assert hook_lines(hooks_log) == [], "a hook ran before any client"
    pid, echoed = ask_once(listen, "hooked")
    assert echoed == "hooked"
    assert int(pidfile.read_text()) == pid, "served by another process than the hook's backend"
    assert hook_lines(hooks_log) == ["start"]
    line = daemon.wait_stderr(r"^.*backend ready after.*$", timeout=3).group(0)
    assert "launcher=hooks" in line, f"no launcher=hooks in {line!r}"

    stop_event = backend.log.wait_for("stop", pid, timeout=5)
    assert stop_event.args == ["TERM"]
    assert hook_lines(hooks_log) == ["start", "stop"]
    backend.log.wait_for("exit", pid, timeout=3)
    daemon.wait_stderr(r"backend stopped", timeout=3)


def test_hooks_not_run_when_target_already_answers(start_znetd, on_demand, tmp_path):
    """The target already answers (a backend started by the test): the client is
    served by that backend and no start hook runs (its marker is never written)."""
    backend = on_demand.backend()
    hooks_log, _pid, _up, start, stop, _check = hook_scripts(on_demand, backend, tmp_path)
    outside = on_demand.spawn(backend.argv)
    backend.log.wait_for("listening", outside.pid, timeout=5)
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=on_demand_config({"app": {
            "listen": listen, "target": backend.addr,
            "hooks": {"start": ["/bin/sh", start], "stop": ["/bin/sh", stop]},
        }}),
        ready=[listen],
    )
    pid, echoed = ask_once(listen, "already up")
    assert echoed == "already up"
    assert pid == outside.pid
    time.sleep(0.3)
    assert "start" not in hook_lines(hooks_log), "the start hook ran although the target answered"
    assert backend.log.pids("start") == [outside.pid]


def test_hooks_check_decides_whether_to_start(start_znetd, on_demand, tmp_path):
    """``hooks.check``: while it exits 1 the start hook runs; once it exits 0 (the
    test says the backend is up and brings up its own, 0.5 s late) znetd runs no start
    hook and serves the client from the test's backend when it answers."""
    backend = on_demand.backend()
    hooks_log, _pid, upfile, start, stop, check = hook_scripts(on_demand, backend, tmp_path)
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=on_demand_config({"app": {
            "listen": listen, "target": backend.addr,
            "hooks": {"start": ["/bin/sh", start], "stop": ["/bin/sh", stop],
                      "check": ["/bin/sh", check]},
            "stop_after": "500ms",
        }}),
        ready=[listen],
    )
    first, _ = ask_once(listen, "check says down")
    lines = hook_lines(hooks_log)
    assert lines.count("check") >= 1 and lines.count("start") == 1, lines
    backend.log.wait_for("exit", first, timeout=5)
    daemon.wait_stderr(r"backend stopped", timeout=3)

    upfile.touch()
    with connect(listen, timeout=10) as sock:
        outside = on_demand.spawn(backend.argv + ["--delay", "0.5"])
        pid, echoed = ask(sock, "check says up")
    assert echoed == "check says up"
    assert pid == outside.pid, f"served by {pid}, the test's backend is {outside.pid}"
    lines = hook_lines(hooks_log)
    assert lines.count("start") == 1, f"the start hook ran although check exited 0: {lines}"
    assert lines.count("check") >= 2, lines
