"""Many backends: round-robin, least-connections, retries and passive health checks."""

import threading
import time
from collections import Counter

from balancing import NamedBackend, hold, who
from conftest import free_port, wait_until


def names_yaml(backends):
    return "\n".join(f'              - "{b.addr}"' for b in backends)


def start_balanced(start_znetd, backends, extra="", **kw):
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=f"""
        services:
          pool:
            listen: "{listen}"
            targets:
{names_yaml(backends)}
{extra}
        """,
        ready=[listen],
        **kw,
    )
    return daemon, listen


def test_round_robin_spreads_64_concurrent_clients_over_4_backends(start_znetd):
    """64 clients at once, all served; each of 4 backends gets 16 +- 4 of them.

    Round-robin hands out positions from one counter shared by the loops, so the spread is
    exact unless a connect fails; the tolerance leaves room for that on a loaded machine.
    """
    pool = [NamedBackend(f"b{i}") for i in range(4)]
    try:
        _, listen = start_balanced(start_znetd, pool)
        names, errors = [], []
        barrier = threading.Barrier(64)

        def client():
            try:
                sock, name = hold(listen, timeout=20)
                with sock:
                    names.append(name)
                    sock.sendall(b"ping")
                    assert sock.recv(4) == b"ping"
                    barrier.wait(timeout=30)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=client) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        counts = Counter(names)
        assert sum(counts.values()) == 64
        assert set(counts) == {"b0", "b1", "b2", "b3"}
        assert all(12 <= n <= 20 for n in counts.values()), counts
    finally:
        for b in pool:
            b.stop()


def test_weights_share_round_robin(start_znetd):
    """weight 3 against weight 1: 30 sequential clients split 22..23 / 7..8 (exactly 3:1 per cycle of 4)."""
    heavy, light = NamedBackend("heavy"), NamedBackend("light")
    try:
        listen = f"127.0.0.1:{free_port()}"
        start_znetd(
            config=f"""
            services:
              pool:
                listen: "{listen}"
                targets:
                  - {{address: "{heavy.addr}", weight: 3}}
                  - "{light.addr}"
            """,
            ready=[listen],
        )
        counts = Counter(who(listen) for _ in range(32))
        assert counts == {"heavy": 24, "light": 8}
    finally:
        heavy.stop()
        light.stop()


def test_least_connections_prefers_the_idle_backend(start_znetd):
    """One client holds a connection to one backend; the next ten go to the other one."""
    pool = [NamedBackend("a"), NamedBackend("b")]
    try:
        _, listen = start_balanced(start_znetd, pool, extra="            balance: least-connections")
        busy_sock, busy = hold(listen)
        with busy_sock:
            later = []
            for _ in range(10):
                later.append(who(listen))
                # The relay gives its slot back just after the client sees EOF: let it.
                time.sleep(0.1)
            idle = "b" if busy == "a" else "a"
            assert later == [idle] * 10
    finally:
        for b in pool:
            b.stop()


def test_source_hash_keeps_a_client_on_one_backend(start_znetd):
    pool = [NamedBackend(f"s{i}") for i in range(3)]
    try:
        _, listen = start_balanced(start_znetd, pool, extra="            balance: source-hash")
        assert len({who(listen) for _ in range(10)}) == 1
    finally:
        for b in pool:
            b.stop()


def test_random_two_choices_serves_every_client(start_znetd):
    pool = [NamedBackend(f"r{i}") for i in range(3)]
    try:
        _, listen = start_balanced(start_znetd, pool, extra="            balance: random-two-choices")
        counts = Counter(who(listen) for _ in range(30))
        assert sum(counts.values()) == 30
        assert len(counts) >= 2
    finally:
        for b in pool:
            b.stop()


def test_failed_connect_tries_the_next_backend_before_the_client_sees_anything(start_znetd):
    """A dead backend (refusing) among live ones: every client is served."""
    dead_port = free_port()
    live = [NamedBackend("x"), NamedBackend("y")]
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=f"""
            services:
              pool:
                listen: "{listen}"
                targets: ["127.0.0.1:{dead_port}", "{live[0].addr}", "{live[1].addr}"]
            """,
            ready=[listen],
        )
        assert {who(listen) for _ in range(12)} <= {"x", "y"}
        # Three connect failures in a row (fall 3) take it down, with the reason.
        daemon.wait_stderr(rf"backend 127\.0\.0\.1:{dead_port} is down: connect failed: .*refused", timeout=10)
    finally:
        for b in live:
            b.stop()


def test_retries_zero_gives_up_after_one_backend(start_znetd):
    dead_port = free_port()
    live = NamedBackend("live")
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=f"""
            services:
              pool:
                listen: "{listen}"
                targets: ["127.0.0.1:{dead_port}", "{live.addr}"]
                retries: 0
            """,
            ready=[listen],
        )
        results = []
        for _ in range(2):
            try:
                results.append(who(listen) or "closed")
            except OSError:
                results.append("closed")
        # Round-robin: one of the two went to the dead backend and was closed, not retried.
        assert sorted(results) == ["closed", "live"]
        daemon.wait_stderr(rf"cannot connect to 127\.0\.0\.1:{dead_port}.*retries: 0", timeout=5)
    finally:
        live.stop()


def test_max_connections_per_backend_overflows_to_the_next(start_znetd):
    small, big = NamedBackend("small"), NamedBackend("big")
    try:
        listen = f"127.0.0.1:{free_port()}"
        start_znetd(
            config=f"""
            services:
              pool:
                listen: "{listen}"
                targets:
                  - {{address: "{small.addr}", max_connections: 2}}
                  - {{address: "{big.addr}", weight: 1}}
                balance: least-connections
            """,
            ready=[listen],
        )
        held = [hold(listen) for _ in range(6)]
        try:
            counts = Counter(name for _, name in held)
            assert counts["small"] == 2 and counts["big"] == 4, counts
        finally:
            for sock, _ in held:
                sock.close()
    finally:
        small.stop()
        big.stop()
