"""Forwarding: bytes go both ways, intact, through every address form."""

import os
import selectors
import socket
import threading
import time

import pytest

from conftest import (
    KiB,
    MiB,
    connect,
    connection_refused,
    echo_round_trip,
    free_port,
    pattern_bytes,
    pattern_digest,
    recv_exact,
    recv_line,
    recv_to_eof,
    send_pattern,
    wait_closed,
)


def test_proxy_flag_forwards_echo_round_trip(start_znetd, backends):
    """``--proxy "LISTEN TARGET"`` alone (no config file) forwards a round trip.

    A 256 KiB random payload is larger than one socket buffer, so the reply only
    arrives if both directions are forwarded while the other is still busy.
    """
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(args=["--proxy", f"{listen} {echo.addr}"], ready=[listen])

    payload = os.urandom(256 * KiB)
    assert echo_round_trip(listen, payload, timeout=10) == payload
    assert echo.accepted == 1


def test_config_two_services_each_to_own_backend(start_znetd, backends):
    """A YAML config with two services: each listen address reaches its own backend.

    The backends greet with their name, so a crossed wiring is detected.
    """
    alpha = backends.echo(greeting="I am alpha\n")
    bravo = backends.echo(greeting="I am bravo\n")
    pa, pb = free_port(), free_port()
    start_znetd(
        config=f"""
        services:
          alpha:
            listen: "127.0.0.1:{pa}"
            target: "{alpha.addr}"
          bravo:
            listen: "127.0.0.1:{pb}"
            target: "{bravo.addr}"
        """,
        ready=[f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"],
    )
    for port, name in ((pa, "alpha"), (pb, "bravo")):
        with connect(f"127.0.0.1:{port}") as sock:
            assert recv_line(sock) == f"I am {name}\n".encode()
            payload = f"hello {name}".encode() * 100
            sock.sendall(payload)
            assert recv_exact(sock, len(payload)) == payload
    assert (alpha.accepted, bravo.accepted) == (1, 1)


def test_listen_list_serves_every_address(start_znetd, backends):
    """``listen`` given as a list: the service accepts on every address of it."""
    echo = backends.echo()
    p1, p2 = free_port(), free_port()
    addrs = [f"127.0.0.1:{p1}", f"127.0.0.1:{p2}"]
    start_znetd(
        config=f"""
        services:
          multi:
            listen: ["{addrs[0]}", "{addrs[1]}"]
            target: "{echo.addr}"
        """,
        ready=addrs,
    )
    for addr in addrs:
        assert echo_round_trip(addr, addr.encode()) == addr.encode()


def test_full_duplex_100mb_each_way(start_znetd, backends):
    """100 MB client->backend while 100 MB flow backend->client on one connection.

    Both ends send and receive at the same time; sha256 and byte counts are checked
    on both ends.  A proxy that forwards one direction at a time deadlocks here (and
    the socket timeouts turn that into a failure).
    """
    size = 100 * MiB
    backend = backends.duplex(size, seed=22)
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(args=["--proxy", f"{listen} {backend.addr}"], ready=[listen])

    sent = {}
    with connect(listen, timeout=30) as sock:

        def upload():
            try:
                sent["sha"] = send_pattern(sock, 11, size)
                sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                sent["error"] = exc

        sender = threading.Thread(target=upload, daemon=True)
        started = time.monotonic()
        sender.start()
        count, digest = recv_to_eof(sock)
        sender.join(60)
        elapsed = time.monotonic() - started

    assert "error" not in sent, f"upload failed: {sent.get('error')!r}"
    assert count == size, f"client received {count} bytes, expected {size}"
    assert digest == pattern_digest(22, size), "bytes backend->client corrupted"
    [result] = backend.wait_results(1, timeout=30)
    assert result["received"] == size, f"backend received {result['received']} bytes"
    assert result["sha256"] == sent["sha"] == pattern_digest(11, size), \
        "bytes client->backend corrupted"
    print(f"200 MB through znetd in {elapsed:.1f}s")


def test_half_close_client_first(start_znetd, backends):
    """Client sends a request and SHUT_WR; it still receives the whole 1 MiB reply.

    The backend only answers after it saw EOF, so this proves znetd propagates the
    client's FIN to the backend and keeps forwarding the other direction.
    """
    reply = 1 * MiB
    backend = backends.reply_after_eof(reply, seed=5)
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(args=["--proxy", f"{listen} {backend.addr}"], ready=[listen])

    request = pattern_bytes(4, 10_000)
    with connect(listen, timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        count, digest = recv_to_eof(sock)

    [result] = backend.wait_results(1)
    assert result["saw_eof"] and result["received"] == len(request)
    assert result["sha256"] == pattern_digest(4, len(request))
    assert count == reply, f"client got {count} of {reply} reply bytes before EOF"
    assert digest == pattern_digest(5, reply)


def test_half_close_backend_first(start_znetd, backends):
    """The backend sends 4 MiB then SHUT_WR; afterwards the client uploads 2 MiB.

    znetd must deliver the backend's EOF to the client without tearing the
    connection down: the client->backend direction still carries the upload.
    """
    size = 4 * MiB
    backend = backends.duplex(size, seed=8, send_first=True)
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(args=["--proxy", f"{listen} {backend.addr}"], ready=[listen])

    upload = 2 * MiB
    with connect(listen, timeout=10) as sock:
        count, digest = recv_to_eof(sock)
        assert (count, digest) == (size, pattern_digest(8, size))
        send_pattern(sock, 9, upload)
        sock.shutdown(socket.SHUT_WR)
        assert wait_closed(sock, 10) == "eof"

    [result] = backend.wait_results(1)
    assert result["received"] == upload, \
        f"backend got {result['received']} of {upload} bytes sent after its own EOF"
    assert result["sha256"] == pattern_digest(9, upload)


def test_500_concurrent_connections(start_znetd, backends):
    """500 connections open at the same time each echo their own unique payload.

    All 500 are connected before any data is sent and closed only after every echo
    arrived, so they really are concurrent (the backend sees 500 at once).
    """
    n = 500
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(args=["--proxy", f"{listen} {echo.addr}"], ready=[listen])

    socks = []
    try:
        for _ in range(n):
            socks.append(connect(listen, timeout=10))
        payloads = [
            (f"<conn {i}>".encode() + os.urandom(500 + (i * 37) % 7000)) for i in range(n)
        ]
        for sock, payload in zip(socks, payloads):
            sock.sendall(payload)

        received = [bytearray() for _ in range(n)]
        pending = set(range(n))
        sel = selectors.DefaultSelector()
        for i, sock in enumerate(socks):
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, i)
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            for key, _mask in sel.select(timeout=1):
                i = key.data
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(key.fileobj)
                    pending.discard(i)
                    continue
                received[i] += data
                if len(received[i]) >= len(payloads[i]):
                    sel.unregister(key.fileobj)
                    pending.discard(i)
        sel.close()

        wrong = [i for i in range(n) if bytes(received[i]) != payloads[i]]
        assert not wrong, (
            f"{len(wrong)} of {n} connections did not get their own payload back "
            f"(first: #{wrong[0]}, got {len(received[wrong[0]])} of "
            f"{len(payloads[wrong[0]])} bytes)"
        )
        assert echo.peak_active >= n, f"backend saw only {echo.peak_active} at once"
    finally:
        for sock in socks:
            sock.close()


def test_unix_socket_listen_and_target(start_znetd, backends, sock_dir):
    """``listen: unix:/path`` and ``target: unix:/path`` both forward."""
    tcp_echo = backends.echo(greeting="tcp\n")
    unix_echo = backends.echo(greeting="unix\n", unix=True)
    unix_listen = f"unix:{sock_dir / 'front.sock'}"
    tcp_listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=f"""
        services:
          from-unix:
            listen: "{unix_listen}"
            target: "{tcp_echo.addr}"
          to-unix:
            listen: "{tcp_listen}"
            target: "{unix_echo.addr}"
        """,
        ready=[unix_listen, tcp_listen],
    )
    for listen, greeting in ((unix_listen, b"tcp\n"), (tcp_listen, b"unix\n")):
        with connect(listen) as sock:
            assert recv_line(sock) == greeting
            sock.sendall(b"ping" * 1000)
            assert recv_exact(sock, 4000) == b"ping" * 1000


def test_ipv6_loopback(start_znetd, backends):
    """``[::1]:port`` works as listen and as target address."""
    try:
        echo = backends.echo(host="::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")
    listen = f"[::1]:{free_port('::1')}"
    start_znetd(args=["--proxy", f"{listen} {echo.addr}"], ready=[listen])
    assert echo_round_trip(listen, b"six" * 1000) == b"six" * 1000


def test_interface_listen_on_loopback(start_znetd, backends):
    """``listen: interface:lo:PORT`` serves every address of ``lo``: 127.0.0.1 and,
    when the machine has IPv6, ::1."""
    echo = backends.echo()
    port = free_port()
    v4, v6 = f"127.0.0.1:{port}", f"[::1]:{port}"
    start_znetd(
        config=f"""
        services:
          lo:
            listen: "interface:lo:{port}"
            target: "{echo.addr}"
        """,
        ready=[v4],
    )
    assert echo_round_trip(v4, b"via lo v4") == b"via lo v4"
    if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
        with open("/proc/net/if_inet6") as f:
            has_v6_lo = any(line.split()[-1] == "lo" for line in f)
        if has_v6_lo:
            assert echo_round_trip(v6, b"via lo v6") == b"via lo v6"


def test_hostname_target(start_znetd, backends):
    """A ``hostname:port`` target is resolved: ``localhost`` reaches a 127.0.0.1 backend.

    If localhost also resolves to ::1 (where nothing listens), znetd must move on to
    the next resolved address.
    """
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(args=["--proxy", f"{listen} localhost:{echo.port}"], ready=[listen])
    assert echo_round_trip(listen, b"by name") == b"by name"


def test_service_flag_runs_only_that_service(start_znetd, backends):
    """``--service NAME`` runs only that service of the config."""
    echo = backends.echo()
    p_on, p_off = free_port(), free_port()
    daemon = start_znetd(
        config=f"""
        services:
          chosen:
            listen: "127.0.0.1:{p_on}"
            target: "{echo.addr}"
          other:
            listen: "127.0.0.1:{p_off}"
            target: "{echo.addr}"
        """,
        args=["--service", "chosen"],
        ready=[f"127.0.0.1:{p_on}"],
    )
    assert echo_round_trip(f"127.0.0.1:{p_on}", b"x") == b"x"
    time.sleep(0.3)
    assert connection_refused(f"127.0.0.1:{p_off}"), "service 'other' is listening"
    assert daemon.alive()
