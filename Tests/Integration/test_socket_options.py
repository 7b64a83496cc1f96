"""Listening-socket options and client access lists on sockets znetd binds itself
(``backlog``, ``free_bind``, ``reuse_port``, ``allow``, ``deny``). Under systemd the generator
writes the same settings into the .socket unit (see the golden tests)."""

import socket
import subprocess

from conftest import echo_round_trip, free_port, wait_until


def listen_queue(port):
    """The Send-Q column of ``ss`` for a listening socket: its backlog."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         timeout=10).stdout
    return [int(line.split()[2]) for line in out.splitlines() if line.strip()]


def exchange_from(source, port, payload=b"hello"):
    """Connects from ``source`` (a loopback address) and returns what came back before EOF or
    a reset: the payload for an admitted client, b"" for a refused one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        try:
            sock.sendall(payload)
            received = b""
            while len(received) < len(payload):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
            return received
        except ConnectionResetError:
            return b""


def test_backlog_is_the_listen_queue(start_znetd, backends):
    echo = backends.echo()
    port = free_port()
    start_znetd(config=f"""
        services:
          web:
            listen: "127.0.0.1:{port}"
            target: "{echo.addr}"
            backlog: 37
        """, ready=[f"127.0.0.1:{port}"])
    assert listen_queue(port) == [37]


def test_allow_and_deny_follow_systemds_rule(start_znetd, backends):
    echo = backends.echo()
    port = free_port()
    daemon = start_znetd(config=f"""
        services:
          web:
            listen: "127.0.0.1:{port}"
            target: "{echo.addr}"
            allow: ["127.0.0.2", "127.0.0.64/26"]
            deny: "127.0.0.0/8"
        """, args=["--log-level", "debug"], ready=[f"127.0.0.1:{port}"])
    assert exchange_from("127.0.0.2", port) == b"hello"      # allowed explicitly
    assert exchange_from("127.0.0.100", port) == b"hello"    # in the allowed /26
    assert exchange_from("127.0.0.1", port) == b""           # denied, closed at once
    assert exchange_from("127.0.0.128", port) == b""
    wait_until(lambda: "refused 127.0.0.1:" in daemon.stderr_text(), 5,
               message="a debug line for the refused client")


def test_reload_changes_the_lists(start_znetd, backends):
    import signal
    echo = backends.echo()
    port = free_port()
    config = f"""
        services:
          web:
            listen: "127.0.0.1:{port}"
            target: "{echo.addr}"
            deny: any
        """
    daemon = start_znetd(config=config, ready=[f"127.0.0.1:{port}"])
    assert exchange_from("127.0.0.1", port) == b""
    daemon.write_config(config.replace("deny: any", "deny: []"))
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: exchange_from("127.0.0.1", port) == b"hello", 5,
               message="the reload to lift the deny list")


def test_free_bind_listens_on_an_address_the_host_does_not_have(start_znetd, backends):
    echo = backends.echo()
    port = free_port()
    config = f"""
        services:
          web:
            listen: "192.0.2.45:{port}"
            target: "{echo.addr}"
        """
    # Without free_bind: a clear error and exit status 1.
    plain = start_znetd(config=config)
    assert plain.wait_exit(timeout=10) == 1
    assert "cannot listen" in plain.stderr_text() and "192.0.2.45" in plain.stderr_text(), \
        plain.stderr_text()
    bound = start_znetd(config=config.rstrip(" ") + "            free_bind: true\n")
    wait_until(lambda: listen_queue(port), 10, message="the free-bound listener")
    assert bound.proc.poll() is None


def test_reuse_port_lets_two_instances_share_a_port(start_znetd, backends):
    echo = backends.echo()
    port = free_port()
    config = f"""
        services:
          web:
            listen: "127.0.0.1:{port}"
            target: "{echo.addr}"
            reuse_port: true
        """
    first = start_znetd(config=config, ready=[f"127.0.0.1:{port}"])
    second = start_znetd(config=config, ready=[f"127.0.0.1:{port}"])
    assert first.proc.poll() is None and second.proc.poll() is None
    assert len(listen_queue(port)) == 2
    for _ in range(10):
        assert echo_round_trip(f"127.0.0.1:{port}", b"either one")
