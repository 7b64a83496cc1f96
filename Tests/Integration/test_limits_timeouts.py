"""connect_timeout, idle_timeout and max_connections."""

import socket
import time

from conftest import connect, echo_round_trip, free_port, recv_exact, wait_closed


def test_connect_timeout_to_blackholed_target(start_znetd, backends):
    """A backend that never answers SYNs: the client is closed after connect_timeout.

    The target is a loopback socket with a full accept queue (SYNs dropped).  With
    ``connect_timeout: 500ms`` the client connection is closed within ~0.5-3 s (not
    at once, not never), stderr reports the timeout naming the service or target,
    and another service of the same daemon keeps working.
    """
    hole = backends.blackhole()
    echo = backends.echo()
    p_dead, p_live = free_port(), free_port()
    daemon = start_znetd(
        config=f"""
        services:
          deadend:
            listen: "127.0.0.1:{p_dead}"
            target: "{hole.addr}"
            connect_timeout: 500ms
          live:
            listen: "127.0.0.1:{p_live}"
            target: "{echo.addr}"
        """,
        ready=[f"127.0.0.1:{p_dead}", f"127.0.0.1:{p_live}"],
    )

    mark = daemon.stderr_mark()
    with connect(f"127.0.0.1:{p_dead}") as sock:
        started = time.monotonic()
        how = wait_closed(sock, timeout=6)
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed <= 3.0, f"client closed ({how}) after {elapsed:.2f}s"

    line = daemon.wait_stderr(r"^.*time[ds]?[ -]?out.*$", timeout=3, since=mark).group(0)
    assert "deadend" in line or hole.addr in line, \
        f"timeout log line names neither service nor target: {line!r}"

    assert echo_round_trip(f"127.0.0.1:{p_live}", b"still alive") == b"still alive"
    assert daemon.alive()


def test_idle_connection_closed_after_idle_timeout(start_znetd, backends):
    """``idle_timeout: 1s``: a connection with no traffic is closed after ~1 s."""
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=f"""
        services:
          idle:
            listen: "{listen}"
            target: "{echo.addr}"
            idle_timeout: 1s
        """,
        ready=[listen],
    )
    with connect(listen) as sock:
        sock.sendall(b"hi")
        assert recv_exact(sock, 2) == b"hi"
        last_activity = time.monotonic()
        how = wait_closed(sock, timeout=5)
        elapsed = time.monotonic() - last_activity
    assert 0.8 <= elapsed <= 2.5, f"idle connection closed ({how}) after {elapsed:.2f}s"


def test_active_connection_survives_idle_timeout(start_znetd, backends):
    """``idle_timeout: 1s``: a byte every 300 ms keeps a connection open for 2.5 s."""
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=f"""
        services:
          idle:
            listen: "{listen}"
            target: "{echo.addr}"
            idle_timeout: 1s
        """,
        ready=[listen],
    )
    with connect(listen, timeout=2) as sock:
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < 2.5:
            sock.sendall(b"k")
            data = sock.recv(1)
            assert data == b"k", f"connection closed after {time.monotonic() - started:.2f}s"
            sent += 1
            time.sleep(0.3)
        sock.sendall(b"end")
        assert recv_exact(sock, 3) == b"end"
    assert sent >= 7


def test_max_connections_holds_extra_clients_in_backlog(start_znetd, backends):
    """``max_connections: 2``: the third client waits, unserved but not closed.

    It connects at TCP level (kernel backlog) but gets no echo while two connections
    are open, and the backend never hears of it; as soon as one of the two closes,
    znetd accepts it and its bytes are echoed.
    """
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    start_znetd(
        config=f"""
        services:
          limited:
            listen: "{listen}"
            target: "{echo.addr}"
            max_connections: 2
        """,
        ready=[listen],
    )
    first = connect(listen)
    second = connect(listen)
    third = None
    try:
        for sock in (first, second):
            sock.sendall(b"held")
            assert recv_exact(sock, 4) == b"held"

        third = connect(listen, timeout=5)  # completes in the kernel backlog
        third.sendall(b"third")
        third.settimeout(1.5)
        try:
            early = third.recv(100)
        except socket.timeout:
            early = None
        assert early is None, (
            "third connection was closed by znetd" if early == b""
            else f"third connection served beyond max_connections: {early!r}"
        )
        assert echo.accepted == 2, f"backend saw {echo.accepted} connections, limit is 2"

        first.close()
        third.settimeout(5)
        assert recv_exact(third, 5) == b"third"
        assert echo.accepted == 3
    finally:
        for sock in (first, second, third):
            if sock is not None:
                sock.close()
