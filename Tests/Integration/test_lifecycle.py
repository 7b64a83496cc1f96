"""SIGTERM (drain, then exit 0) and SIGHUP (reload) while connections are in flight."""

import re
import signal
import socket
import time

from conftest import (
    MiB,
    connect,
    connection_refused,
    dedent,
    download,
    free_port,
    pattern_digest,
    recv_exact,
    recv_line,
    wait_closed,
    wait_until,
)


def round_trip(sock, payload=b"still here"):
    sock.sendall(payload)
    return recv_exact(sock, len(payload)) == payload


def test_sigterm_lets_transfer_in_flight_finish(start_znetd, backends):
    """SIGTERM during a slow 8 MiB download: it completes intact, new connections are
    not served any more, and znetd exits 0 soon after the transfer (well before the
    30 s drain_timeout)."""
    size = 8 * MiB
    slow = backends.slow(size, duration=2.5, seed=31)
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=f"""
        drain_timeout: 30s
        services:
          slow:
            listen: "{listen}"
            target: "{slow.addr}"
        """,
        ready=[listen],
    )
    transfer = download(listen)
    transfer.start()
    transfer.wait_progress(256 * 1024)

    daemon.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert transfer.is_alive(), "the transfer ended right after SIGTERM"

    # A new client is refused, or parked in a backlog nobody accepts from any more.
    try:
        probe = connect(listen, timeout=1)
    except ConnectionRefusedError:
        pass
    else:
        with probe:
            probe.settimeout(1)
            try:
                data = probe.recv(100)
            except (socket.timeout, ConnectionResetError):
                data = b""
            assert data == b"", f"a connection made after SIGTERM was served: {data!r}"

    count, digest = transfer.outcome(30)
    finished = time.monotonic()
    assert count == size, f"transfer cut at {count} of {size} bytes by SIGTERM"
    assert digest == pattern_digest(31, size)

    status = daemon.wait_exit(3)
    print(f"exited {time.monotonic() - finished:.2f}s after the transfer")
    assert status == 0, f"exit status {status} after SIGTERM\n{daemon.diagnostics()}"
    assert slow.accepted == 1, "a connection made after SIGTERM reached the backend"


def test_sigterm_drain_timeout_bounds_shutdown(start_znetd, backends):
    """``drain_timeout: 1s`` and a connection that never ends: znetd waits about 1 s
    for it, then exits 0 (within ~1-3 s of SIGTERM) and the connection is closed."""
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=f"""
        drain_timeout: 1s
        services:
          echo:
            listen: "{listen}"
            target: "{echo.addr}"
        """,
        ready=[listen],
    )
    with connect(listen) as sock:
        assert round_trip(sock)
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        status = daemon.wait_exit(8)
        elapsed = time.monotonic() - started
        assert wait_closed(sock, 2) in ("eof", "reset")
    assert status == 0, f"exit status {status}\n{daemon.diagnostics()}"
    assert 0.8 <= elapsed <= 3.0, f"exited {elapsed:.2f}s after SIGTERM, drain_timeout is 1s"


def test_sighup_good_config_while_transfer_in_flight(start_znetd, backends):
    """SIGHUP with a new config that adds ``fresh`` and removes ``retired`` while a
    50 MiB download runs through the unchanged ``keep`` service.

    After the reload: ``fresh`` serves, ``retired``'s port refuses connections, the
    connection that was open on ``retired`` still works (it drains), and the
    download completes intact.
    """
    size = 50 * MiB
    slow = backends.slow(size, duration=3.0, seed=41)
    old_echo = backends.echo(greeting="retired\n")
    new_echo = backends.echo(greeting="fresh\n")
    keep, retired, fresh = (f"127.0.0.1:{free_port()}" for _ in range(3))
    daemon = start_znetd(
        config=f"""
        services:
          keep:
            listen: "{keep}"
            target: "{slow.addr}"
          retired:
            listen: "{retired}"
            target: "{old_echo.addr}"
        """,
        ready=[keep, retired],
    )
    held = connect(retired)
    try:
        assert recv_line(held) == b"retired\n"
        assert round_trip(held)

        transfer = download(keep, timeout=30)
        transfer.start()
        transfer.wait_progress(2 * MiB)

        daemon.write_config(f"""
        services:
          keep:
            listen: "{keep}"
            target: "{slow.addr}"
          fresh:
            listen: "{fresh}"
            target: "{new_echo.addr}"
        """)
        daemon.signal(signal.SIGHUP)
        daemon.wait_listening([fresh], timeout=5)
        assert transfer.is_alive(), "reload not finished while the transfer was in flight"

        with connect(fresh) as sock:
            assert recv_line(sock) == b"fresh\n"
            assert round_trip(sock)
        daemon.wait_not_listening(retired, timeout=5)
        assert round_trip(held), "connection on the removed service died at reload"
    finally:
        held.close()

    count, digest = transfer.outcome(30)
    assert count == size, f"transfer cut at {count} of {size} bytes by the reload"
    assert digest == pattern_digest(41, size)
    assert daemon.alive(), daemon.diagnostics()


def test_sighup_bad_config_keeps_old_one(start_znetd, backends):
    """SIGHUP with a config containing a YAML syntax error, during a 50 MiB download.

    The reload is rejected: stderr shows the error as FILE:LINE:COL with the right
    line, RELOADING=1 and then READY=1 are still sent, the old services keep serving
    and the download completes intact.
    """
    size = 50 * MiB
    slow = backends.slow(size, duration=3.0, seed=43)
    echo = backends.echo()
    keep, other = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    good = f"""
    services:
      keep:
        listen: "{keep}"
        target: "{slow.addr}"
      other:
        listen: "{other}"
        target: "{echo.addr}"
    """
    daemon = start_znetd(config=good, ready=[keep, other])
    transfer = download(keep, timeout=30)
    transfer.start()
    transfer.wait_progress(2 * MiB)

    bad = dedent(good).replace(f'target: "{echo.addr}"', "target: oops: not: yaml")
    bad_line = bad.splitlines().index("    target: oops: not: yaml") + 1
    notify_mark, stderr_mark = daemon.notify.mark(), daemon.stderr_mark()
    daemon.write_config(bad)
    daemon.signal(signal.SIGHUP)

    reloading = daemon.notify.wait_for("RELOADING=1", timeout=5, start=notify_mark)
    daemon.notify.wait_for("READY=1", timeout=5, start=reloading + 1)
    name = re.escape(daemon.config_path.name)
    match = daemon.wait_stderr(rf"{name}:(\d+):(\d+)", timeout=5, since=stderr_mark)
    assert int(match.group(1)) == bad_line, \
        f"error reported at line {match.group(1)}, the syntax error is on line {bad_line}"

    assert transfer.is_alive(), "rejected reload not finished while the transfer was in flight"
    with connect(other) as sock:
        assert round_trip(sock), "old service stopped serving after a rejected reload"
    assert not connection_refused(keep)

    count, digest = transfer.outcome(30)
    assert count == size, f"transfer cut at {count} of {size} bytes"
    assert digest == pattern_digest(43, size)
    assert daemon.alive(), daemon.diagnostics()


def test_sighup_changed_target_applies_to_new_connections_only(start_znetd, backends):
    """A service whose target changes: new connections go to the new backend, a
    connection opened before the reload keeps talking to the old one."""
    before = backends.echo(greeting="before\n")
    after = backends.echo(greeting="after\n")
    listen = f"127.0.0.1:{free_port()}"
    config = """
    services:
      moving:
        listen: "{listen}"
        target: "{target}"
    """
    daemon = start_znetd(config=config.format(listen=listen, target=before.addr), ready=[listen])
    held = connect(listen)
    try:
        assert recv_line(held) == b"before\n"
        daemon.write_config(config.format(listen=listen, target=after.addr))
        daemon.signal(signal.SIGHUP)

        def new_connection_greeting():
            with connect(listen) as sock:
                return recv_line(sock) == b"after\n"

        wait_until(new_connection_greeting, 5, interval=0.1,
                   message="new connections to reach the new target")
        assert round_trip(held), "connection opened before the reload died"
        assert before.active >= 1
    finally:
        held.close()
    assert daemon.alive(), daemon.diagnostics()
