"""``znetd status``: what it reports matches what the test did."""

import json
import time

from conftest import (ask_once, connect, echo_round_trip, free_port, graceful_close, on_demand_config,
                      recv_exact, wait_until)
from control_client import status_json, znetd_cli


def test_status_counts_connections_and_bytes(start_znetd, sock_dir, backends, znetd_bin):
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    control = sock_dir / "c.sock"
    start_znetd(config=f"""
        services:
          web:
            listen: "{listen}"
            target: "{echo.addr}"
        """, args=["--control-socket", control], ready=[listen])
    wait_until(control.exists, 5, message="control socket")
    web = status_json(znetd_bin, control)["web"]
    assert (web["state"], web["launcher"], web["connections_total"], web["bytes_in"]) == ("ready", "none", 0, 0)

    for size in (100, 2000, 70000):
        assert echo_round_trip(listen, b"x" * size) == b"x" * size
    open_one = connect(listen)
    open_one.sendall(b"hello")
    assert recv_exact(open_one, 5) == b"hello"
    wait_until(lambda: status_json(znetd_bin, control)["web"]["connections_active"] == 1, 5,
               message="one active connection")
    web = status_json(znetd_bin, control)["web"]
    assert web["connections_total"] == 4
    # Bytes are counted when a connection finishes: the three closed ones.
    assert web["bytes_in"] == web["bytes_out"] == 72100
    assert web["backends"] == [{"address": echo.addr, "up": True, "health": "up", "tier": 0, "weight": 1,
                                "connections_active": 1, "reason": None}]
    graceful_close(open_one)
    wait_until(lambda: status_json(znetd_bin, control)["web"]["bytes_in"] == 72105, 5, message="bytes counted")

    # The human table and the service filter.
    result = znetd_cli(znetd_bin, "status", "web", "--control-socket", control)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[:5] == ["SERVICE", "STATE", "LAUNCHER", "ACTIVE", "TOTAL"]
    assert row.split()[:5] == ["web", "ready", "none", "0", "4"]
    assert f"backend {echo.addr}: up, tier 0" in result.stdout
    result = znetd_cli(znetd_bin, "status", "nope", "--control-socket", control)
    assert result.returncode == 1 and "no running znetd serves a service named 'nope'" in result.stderr


def test_status_reports_wakeups_and_failures(start_znetd, sock_dir, on_demand, znetd_bin):
    backend = on_demand.backend()
    listen = f"127.0.0.1:{free_port()}"
    dead_listen = f"127.0.0.1:{free_port()}"
    control = sock_dir / "c.sock"
    config = on_demand_config({
        "app": {"listen": listen, "target": backend.addr, "command": backend.argv},
        "broken": {"listen": dead_listen, "target": "127.0.0.1:1", "command": ["/bin/false"],
                   "start_timeout": "2s"},
    })
    start_znetd(config=config, args=["--control-socket", control], ready=[listen, dead_listen])
    wait_until(control.exists, 5, message="control socket")
    services = status_json(znetd_bin, control)
    assert services["app"]["state"] == "asleep" and services["app"]["launcher"] == "process"
    assert services["app"]["wakeups"] == 0 and services["app"]["last_wakeup"] is None

    before = time.time()
    ask_once(listen, "hello")
    app = status_json(znetd_bin, control)["app"]
    assert app["state"] == "ready"
    assert app["wakeups"] == 1
    assert before * 1000 - 1000 <= app["last_wakeup"]["at_unix_ms"] <= time.time() * 1000 + 1000
    assert 0 < app["last_wakeup"]["duration_ms"] < 15000
    assert app["wakeup_histogram"]["count"] == 1
    assert app["connections_total"] == 1

    # A backend that cannot start: its error is reported.
    sock = connect(dead_listen)
    sock.settimeout(10)
    assert sock.recv(1) == b""
    broken = status_json(znetd_bin, control)["broken"]
    assert broken["state"] in ("asleep", "stopping")
    assert broken["last_error"] and "exited" in broken["last_error"]
    assert broken["wakeups"] == 0
