"""No descriptor leak: 10,000 short connections leave znetd's fd table unchanged."""

import socket
import threading
import time

from conftest import MiB, Transfer, connect, free_port, recv_exact, recv_line, send_pattern

THREADS = 4


def short_connections(addr, count, errors):
    """``count`` sequential connections, each echoing a few bytes, then closing."""
    for i in range(count):
        payload = b"%d\n" % i
        try:
            with connect(addr, timeout=10) as sock:
                sock.sendall(payload)
                if recv_exact(sock, len(payload)) != payload:
                    errors.append(f"wrong echo for {payload!r}")
        except (OSError, AssertionError) as exc:
            errors.append(repr(exc))
            if len(errors) > 20:
                return


def hammer(addr, total):
    """``total`` short connections spread over THREADS client threads."""
    errors = []
    threads = [
        threading.Thread(target=short_connections, args=(addr, total // THREADS, errors),
                         daemon=True)
        for _ in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads), "client threads hung"
    assert not errors, f"{len(errors)} failed connections, first: {errors[:5]}"


def bulk_transfer(addr, size):
    """A Transfer uploading ``size`` bytes through the bulk proxy (exercises
    the splice pipes); the sink answers with count and digest."""

    def run(progress):
        with connect(addr, timeout=30) as sock:
            digest = send_pattern(sock, 51, size, progress=progress)
            sock.shutdown(socket.SHUT_WR)
            reply = recv_line(sock)
            assert reply.split() == [str(size).encode(), digest.encode()], reply

    return Transfer(run, name="bulk upload")


def settled_fds(daemon, quiet=0.5, timeout=5.0):
    """The fd table once its size has not changed for ``quiet`` seconds (connections
    of the warm-up that are still closing must not count in the baseline)."""
    deadline = time.monotonic() + timeout
    current = daemon.fd_targets()
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = daemon.fd_targets()
        if len(now) != len(current):
            current, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            break
    return current


def test_no_fd_leak_after_10000_connections(start_znetd, backends):
    """Warm up (short connections and bulk transfers, so pools and caches are at
    their steady size), count /proc/PID/fd, run 10,000 short echo connections from
    4 threads, let it settle: the count must be back exactly where it was."""
    echo = backends.echo()
    sink = backends.sink(reply_digest=True)
    p_echo, p_bulk = free_port(), free_port()
    echo_addr, bulk_addr = f"127.0.0.1:{p_echo}", f"127.0.0.1:{p_bulk}"
    daemon = start_znetd(
        args=["--proxy", f"{echo_addr} {echo.addr}", "--proxy", f"{bulk_addr} {sink.addr}"],
        ready=[echo_addr, bulk_addr],
    )

    # Warm-up: concurrency like the real run, plus bulk data through the pipes.
    hammer(echo_addr, 400)
    bulk = [bulk_transfer(bulk_addr, 8 * MiB) for _ in range(2)]
    for t in bulk:
        t.start()
    for t in bulk:
        t.outcome(60)
    hammer(echo_addr, 400)
    before = settled_fds(daemon)

    started = time.monotonic()
    hammer(echo_addr, 10_000)
    print(f"10,000 connections in {time.monotonic() - started:.1f}s")

    deadline = time.monotonic() + 5
    after = daemon.fd_targets()
    while len(after) != len(before) and time.monotonic() < deadline:
        time.sleep(0.1)
        after = daemon.fd_targets()
    leaked = {fd: t for fd, t in after.items() if before.get(fd) != t}
    assert len(after) == len(before), (
        f"{len(before)} fds before, {len(after)} after 10,000 connections; "
        f"new or changed: {dict(list(leaked.items())[:20])}"
    )
    assert echo.accepted >= 10_800
    assert daemon.alive()
