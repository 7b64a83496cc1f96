"""Backends that change under a running znetd: DNS answers that change, and reloads that
remove, disable or keep backends."""

import signal

from balancing import NamedBackend, hold, who
from conftest import MiB, download, free_port, pattern_digest, wait_until
from test_resolution import hosts_file  # noqa: F401 - a fixture


def test_hostname_expands_to_every_address_and_follows_dns(start_znetd, hosts_file):  # noqa: F811
    """pool.test has two addresses: two backends. The hosts file changes to two others;
    within resolve_interval the set follows (one kept, one drained, one added)."""
    port = free_port()
    one, two, three = (NamedBackend(name, f"127.0.0.{i}", port) for i, name in ((1, "one"), (2, "two"), (3, "three")))
    try:
        hosts = hosts_file("127.0.0.1 pool.test\n127.0.0.2 pool.test\n")
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=f"""
            services:
              pool:
                listen: "{listen}"
                targets: ["pool.test:{port}"]
                resolve_interval: 1s
            """,
            wrap=hosts,
            ready=[listen],
        )
        assert {who(listen) for _ in range(6)} == {"one", "two"}
        mark = daemon.stderr_mark()
        # The same file is bind-mounted over the namespace's /etc/hosts: rewrite it in place.
        rewrite_hosts(daemon, "127.0.0.2 pool.test\n127.0.0.3 pool.test\n")
        daemon.wait_stderr(rf"pool\.test:{port} resolves to 127\.0\.0\.2:{port}, 127\.0\.0\.3:{port}",
                           timeout=10, since=mark)
        daemon.wait_stderr(rf"backend pool\.test:{port} \(127\.0\.0\.1:{port}\) drains \(no longer in DNS\)",
                           timeout=5, since=mark)
        assert {who(listen) for _ in range(6)} == {"two", "three"}
    finally:
        for b in (one, two, three):
            b.stop()


def rewrite_hosts(daemon, text):
    """Rewrites the hosts file the daemon's namespace sees (the file given to the wrapper)."""
    script = daemon.argv[daemon.argv.index("-c") + 1]
    path = script.split('"')[1]
    with open(path, "r+") as f:
        f.seek(0)
        f.write(text)
        f.truncate()


def test_reload_drains_a_removed_backend_and_its_transfer_completes(start_znetd, backends):
    """A 30 MiB download runs from backend A; a reload replaces A with B. New clients go to
    B at once, and the download from A completes intact."""
    size = 30 * MiB
    slow = backends.slow(size, duration=3.0, seed=51)
    fresh = NamedBackend("fresh")
    try:
        listen = f"127.0.0.1:{free_port()}"
        config = """
            services:
              pool:
                listen: "{listen}"
                targets: [{targets}]
            """
        daemon = start_znetd(config=config.format(listen=listen, targets=f'"{slow.addr}"'), ready=[listen])
        transfer = download(listen, timeout=30)
        transfer.start()
        transfer.wait_progress(2 * MiB)
        mark = daemon.stderr_mark()
        daemon.write_config(config.format(listen=listen, targets=f'"{fresh.addr}"'))
        daemon.signal(signal.SIGHUP)
        daemon.wait_stderr(rf"backend {slow.addr} drains \(removed from the configuration\): 1 connections open",
                           timeout=5, since=mark)
        assert transfer.is_alive(), "reload not finished while the transfer was in flight"
        assert who(listen) == "fresh"
        count, digest = transfer.outcome(30)
        assert count == size, f"transfer cut at {count} of {size} bytes by the reload"
        assert digest == pattern_digest(51, size)
    finally:
        fresh.stop()


def test_reload_keeps_an_unchanged_backends_health_and_connections(start_znetd):
    """A backend that is down stays down across a reload that keeps it (no fresh start as
    up); a held connection to a kept backend survives; a disabled one takes no new clients."""
    a, b, c = NamedBackend("a"), NamedBackend("b"), NamedBackend("c")
    dead = free_port()
    try:
        listen = f"127.0.0.1:{free_port()}"
        config = """
            services:
              pool:
                listen: "{listen}"
                targets:
                  - "{a}"
                  - {{address: "{b}", disabled: {disabled}}}
                  - "{c}"
                  - "127.0.0.1:{dead}"
                health: {{check: tcp, interval: 200ms, rise: 2, fall: 1}}
                balance: least-connections
            """
        daemon = start_znetd(config=config.format(listen=listen, a=a.addr, b=b.addr, c=c.addr, dead=dead,
                                                  disabled="false"), ready=[listen])
        daemon.wait_stderr(rf"backend 127\.0\.0\.1:{dead} is down", timeout=10)
        held, name = hold(listen)
        with held:
            mark = daemon.stderr_mark()
            daemon.write_config(config.format(listen=listen, a=a.addr, b=b.addr, c=c.addr, dead=dead,
                                              disabled="true"))
            daemon.signal(signal.SIGHUP)
            daemon.wait_stderr(rf"backend {b.addr} drains \(disabled\)", timeout=5, since=mark)
            daemon.wait_stderr(r"configuration reloaded", timeout=5, since=mark)
            held.sendall(b"still here")
            assert held.recv(100) == b"still here"
            names = {who(listen) for _ in range(8)}
            assert names == {"a", "c"}
            # Kept as it was: down, so never announced down again, nor up.
            text = daemon.stderr_text()[mark:]
            assert f"127.0.0.1:{dead} is down" not in text and f"127.0.0.1:{dead} is up" not in text
    finally:
        for x in (a, b, c):
            x.stop()


def test_removed_backend_connections_close_after_the_drain_timeout(start_znetd):
    """A connection that outlives drain_timeout after its backend was removed is closed, and
    the log says why; the service itself keeps serving from the new backend."""
    old, new = NamedBackend("old"), NamedBackend("new")
    try:
        listen = f"127.0.0.1:{free_port()}"
        config = """
            drain_timeout: 1s
            services:
              pool:
                listen: "{listen}"
                targets: ["{target}"]
            """
        daemon = start_znetd(config=config.format(listen=listen, target=old.addr), ready=[listen])
        held, name = hold(listen)
        with held:
            assert name == "old"
            mark = daemon.stderr_mark()
            daemon.write_config(config.format(listen=listen, target=new.addr))
            daemon.signal(signal.SIGHUP)
            daemon.wait_stderr(rf"drain timeout: closing 1 connections to backend {old.addr}", timeout=10, since=mark)
            held.settimeout(10)
            assert held.recv(100) == b""
        assert who(listen) == "new"
    finally:
        old.stop()
        new.stop()
