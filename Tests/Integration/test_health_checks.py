"""Active health checks (tcp, http, exec), tiers: failover and failback after failback_after."""

import time
from collections import Counter

from balancing import NamedBackend, who
from conftest import free_port, wait_status, wait_until


def pool_config(listen, targets, extra):
    lines = "\n".join(f"                  - {t}" for t in targets)
    return f"""
            services:
              pool:
                listen: "{listen}"
                targets:
{lines}
{extra}
            """


def test_killed_backend_goes_down_after_fall_and_comes_back_after_rise(start_znetd):
    a, b, c = NamedBackend("a"), NamedBackend("b"), NamedBackend("c")
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=pool_config(listen, [f'"{x.addr}"' for x in (a, b, c)],
                               "                health: {check: tcp, interval: 200ms, timeout: 500ms, rise: 2, fall: 2}"),
            ready=[listen],
        )
        assert len({who(listen) for _ in range(6)}) == 3
        mark = daemon.stderr_mark()
        c.stop()
        daemon.wait_stderr(rf"backend {c.addr} is down: health check failed: connect: .*refused", timeout=10, since=mark)
        wait_status(daemon.notify, rf"pool: 2/3 backends up, down: {c.addr}", timeout=5)
        names = Counter(who(listen) for _ in range(20))
        assert names == {"a": 10, "b": 10}
        mark = daemon.stderr_mark()
        c.start()
        daemon.wait_stderr(rf"backend {c.addr} is up: health check passed", timeout=10, since=mark)
        wait_until(lambda: who(listen) == "c", timeout=10, message="c to get connections again")
    finally:
        for x in (a, b, c):
            x.stop()


def test_http_check_takes_a_backend_that_still_accepts_out_of_rotation(start_znetd):
    """The backend answers its health URL with 503: down, and then gets no new connections at all."""
    good, sick = NamedBackend("good"), NamedBackend("sick")
    good.http_status, sick.http_status = 200, 200
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=pool_config(listen, [f'"{good.addr}"', f'"{sick.addr}"'],
                               "                health: {check: http GET /health expect 2xx, interval: 200ms, fall: 1, rise: 1}"),
            ready=[listen],
        )
        sick.http_status = 503
        daemon.wait_stderr(rf"backend {sick.addr} is down: health check failed: HTTP status 503, expected 2xx", timeout=10)
        before = sick.accepted
        assert [who(listen) for _ in range(8)] == ["good"] * 8
        assert sick.accepted == before
        sick.http_status = 204
        daemon.wait_stderr(rf"backend {sick.addr} is up: health check passed: HTTP 204", timeout=10)
    finally:
        good.stop()
        sick.stop()


def test_exec_check_gets_the_backend_address(start_znetd, tmp_path):
    """The check program sees ZNETD_BACKEND_HOST/PORT; it fails for one port only."""
    ok, bad = NamedBackend("ok"), NamedBackend("bad")
    script = tmp_path / "check"
    script.write_text(f'#!/bin/sh\n[ "$ZNETD_BACKEND_HOST:$ZNETD_BACKEND_PORT" != "{bad.addr}" ]\n')
    script.chmod(0o755)
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=pool_config(listen, [f'"{ok.addr}"', f'"{bad.addr}"'],
                               f'                health: {{check: "exec:{script}", interval: 300ms, fall: 1}}'),
            ready=[listen],
        )
        daemon.wait_stderr(rf"backend {bad.addr} is down: health check failed: {script} exited with status 1", timeout=10)
        assert {who(listen) for _ in range(6)} == {"ok"}
        assert f"backend {ok.addr} is down" not in daemon.stderr_text()
    finally:
        ok.stop()
        bad.stop()


def test_tier_failover_and_failback_after_the_delay(start_znetd):
    """Tier 0 dies: clients go to tier 1. Back up, tier 0 waits failback_after (3s) before it
    is used again, then takes new connections."""
    primary, standby = NamedBackend("primary"), NamedBackend("standby")
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=f"""
            services:
              pool:
                listen: "{listen}"
                tiers:
                  - ["{primary.addr}"]
                  - ["{standby.addr}"]
                health: {{check: tcp, interval: 200ms, timeout: 500ms, rise: 1, fall: 1}}
                failback_after: 3s
            """,
            ready=[listen],
        )
        assert who(listen) == "primary"
        primary.stop()
        daemon.wait_stderr(rf"backend {primary.addr} is down", timeout=10)
        assert who(listen) == "standby"
        daemon.wait_stderr(r"failing over from tier 0 to tier 1", timeout=5)
        mark = daemon.stderr_mark()
        primary.start()
        daemon.wait_stderr(rf"backend {primary.addr} is up", timeout=10, since=mark)
        up_seen = time.monotonic()
        # Within failback_after of coming up: still the standby.
        assert who(listen) == "standby"
        assert time.monotonic() - up_seen < 3, "the machine is too slow for this check"
        wait_until(lambda: who(listen) == "primary", timeout=15, message="failback to the primary")
        assert time.monotonic() - up_seen >= 2.5
        daemon.wait_stderr(r"failing back from tier 1 to tier 0", timeout=5)
    finally:
        primary.stop()
        standby.stop()


def test_failback_force_closes_connections_to_the_worse_tier(start_znetd):
    primary, standby = NamedBackend("primary"), NamedBackend("standby")
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=f"""
            services:
              pool:
                listen: "{listen}"
                tiers: [["{primary.addr}"], ["{standby.addr}"]]
                health: {{check: tcp, interval: 200ms, rise: 1, fall: 1}}
                failback_after: 500ms
                failback_force: true
            """,
            ready=[listen],
        )
        primary.stop()
        daemon.wait_stderr(rf"backend {primary.addr} is down", timeout=10)
        from balancing import hold
        sock, name = hold(listen)
        with sock:
            assert name == "standby"
            primary.start()
            wait_until(lambda: who(listen) == "primary", timeout=15, message="failback")
            sock.settimeout(10)
            assert sock.recv(10) == b""  # closed by the forced failback
        daemon.wait_stderr(r"failback_force: closing \d+ connections to tiers above 0", timeout=5)
    finally:
        primary.stop()
        standby.stop()
