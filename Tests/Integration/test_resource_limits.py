"""When the kernel says no: the pipe budget and the descriptor limit.

znetd must keep serving when splice pipes cannot be had (an unprivileged user's
fs.pipe-user-pages-soft budget is spent) and when it runs out of file descriptors;
clients are slowed down, never dropped.
"""

import os
import shutil
import socket
import threading
import time

import pytest

from conftest import connect, free_port, pattern_digest, recv_exact, recv_to_eof, wait_until

MiB = 1024 * 1024


def pipe_count(pid):
    """Pipes the process holds (each pipe is two descriptors)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                count += 1
        except OSError:
            pass
    return count // 2


def pipe_user_pages_soft():
    with open("/proc/sys/fs/pipe-user-pages-soft") as f:
        return int(f.read())


@pytest.fixture
def as_nobody():
    if os.geteuid() != 0:
        pytest.skip("needs root to run znetd as an unprivileged user (setpriv)")
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def test_pipe_budget_exhausted_falls_back_to_recv_send(start_znetd, backends, as_nobody):
    """More bulk connections than the unprivileged pipe budget allows all complete intact.

    As user nobody, the kernel grants 1 MiB pipes only up to fs.pipe-user-pages-soft
    (64 MiB by default, so 64 pipes); beyond it F_SETPIPE_SZ fails and new pipes get two
    pages. znetd must then move those connections with recv/send. Every client holds
    its connection unread first, so every direction keeps its pipe full at once.
    """
    soft_pages = pipe_user_pages_soft()
    if soft_pages == 0:
        pytest.skip("fs.pipe-user-pages-soft is 0 (no budget to exhaust)")
    budget_pipes = soft_pages * 4096 // MiB
    clients = budget_pipes + 16
    size = 4 * MiB
    source = backends.source(size)
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        args=["--proxy", f"{listen} {source.addr}", "--log-level", "warning"],
        wrap=as_nobody,
        notify=False,
        ready=[listen],
    )

    socks = [connect(listen, timeout=30) for _ in range(clients)]
    try:
        # Wait until znetd has taken what pipes it can and the count settles.
        peak = 0
        stable_since = time.monotonic()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = pipe_count(daemon.pid)
            if now > peak:
                peak, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 1.5 and peak > 0:
                break
            time.sleep(0.1)
        print(f"peak pipes {peak} for {clients} stalled connections (budget {budget_pipes} x 1 MiB)")
        assert peak > 0, "znetd never spliced: the test would prove nothing"
        assert peak < clients, (
            f"{peak} pipes for {clients} stalled bulk connections: the pipe budget "
            f"({budget_pipes} x 1 MiB) was not what limited them"
        )

        results = [None] * clients

        def drain(i):
            results[i] = recv_to_eof(socks[i])

        threads = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        expected = (size, pattern_digest(1, size))
        bad = [i for i, r in enumerate(results) if tuple(r or ()) != expected]
        assert not bad, f"{len(bad)} of {clients} transfers incomplete or corrupt, e.g. #{bad[0]}: {results[bad[0]]}"
    finally:
        for s in socks:
            s.close()
    assert daemon.alive(), daemon.diagnostics()


def test_descriptor_limit_holds_clients_until_descriptors_free_up(start_znetd, backends):
    """With RLIMIT_NOFILE far below the client count, every client is still served.

    Clients beyond what the descriptors allow wait (in the backlog, or accepted and
    held while the backend socket cannot be created) until earlier clients leave;
    none is closed unanswered, and znetd says why it is slow.
    """
    if not shutil.which("prlimit"):
        pytest.skip("prlimit (util-linux) is not installed")
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        args=["--proxy", f"{listen} {echo.addr}", "--threads", "1"],
        wrap=["prlimit", "--nofile=40:40", "--"],
        notify=False,
        ready=[listen],
    )
    clients = 40
    socks = []
    for i in range(clients):
        s = connect(listen, timeout=20)
        s.sendall(b"client %03d\n" % i)
        socks.append(s)

    answered = [False] * clients

    def answered_now():
        for i, s in enumerate(socks):
            if answered[i]:
                continue
            s.setblocking(False)
            try:
                data = s.recv(64, socket.MSG_PEEK)
            except BlockingIOError:
                continue
            finally:
                s.setblocking(True)
            assert data, f"client {i} was closed unanswered"
            if len(data) >= 11:
                answered[i] = True
        return sum(answered)

    time.sleep(1.0)
    during = answered_now()
    print(f"{during} of {clients} clients answered while descriptors were exhausted")
    assert 0 < during < clients, f"{during} of {clients} answered with 40 descriptors: the limit was not reached"
    daemon.wait_stderr(r"Too many open files", timeout=5)

    # Let the answered clients go; the held ones must then be served.
    for i in range(clients):
        if answered[i]:
            assert recv_exact(socks[i], 11) == b"client %03d\n" % i
            socks[i].close()

    def all_served():
        answered_now()
        for i in range(clients):
            if answered[i] and socks[i].fileno() != -1:
                assert recv_exact(socks[i], 11) == b"client %03d\n" % i
                socks[i].close()
        return all(answered)

    wait_until(all_served, timeout=20, message="every held client answered")
    assert daemon.alive(), daemon.diagnostics()
