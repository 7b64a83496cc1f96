"""Hostname targets: every resolved address is tried in order, within connect_timeout each.

A private mount namespace gets its own /etc/hosts in which ``multi.test`` has two
addresses; znetd resolves it with getaddrinfo like any hostname.
"""

import os
import shutil
import socket
import threading

import pytest

from conftest import connect, echo_round_trip, free_port


@pytest.fixture
def hosts_file(tmp_path):
    """Returns wrap(hosts_text) -> argv prefix running znetd with that /etc/hosts."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a private mount namespace (unshare --mount)")
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")

    def wrap(text):
        path = tmp_path / "hosts"
        path.write_text(text)
        path.chmod(0o644)
        script = f'mount --bind "{path}" /etc/hosts && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"]

    return wrap


class LineEcho(threading.Thread):
    """An echo server bound to one exact address (the port shared with a blackhole)."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.served = 0
        self.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.served += 1
                data = conn.recv(4096)
                conn.sendall(data)

    def stop(self):
        self.sock.close()


def test_refused_first_address_falls_through_to_the_second(start_znetd, hosts_file):
    """127.0.0.1 refuses (nothing listens there); the connection reaches 127.0.0.2."""
    port = free_port("127.0.0.2")
    live = LineEcho("127.0.0.2", port)
    try:
        listen = f"127.0.0.1:{free_port()}"
        start_znetd(
            args=["--proxy", f"{listen} multi.test:{port}"],
            wrap=hosts_file("127.0.0.1 multi.test\n127.0.0.2 multi.test\n"),
            ready=[listen],
        )
        assert echo_round_trip(listen, b"via the second address") == b"via the second address"
        assert live.served == 1
    finally:
        live.stop()


def test_blackholed_first_address_times_out_then_the_second_serves(start_znetd, backends, hosts_file):
    """The first address drops SYNs: after connect_timeout znetd tries the second one."""
    hole = backends.blackhole("127.0.0.1")
    live = LineEcho("127.0.0.2", hole.port)
    try:
        listen = f"127.0.0.1:{free_port()}"
        daemon = start_znetd(
            config=f"""
            services:
              multi:
                listen: "{listen}"
                target: "multi.test:{hole.port}"
                connect_timeout: 300ms
            """,
            wrap=hosts_file("127.0.0.1 multi.test\n127.0.0.2 multi.test\n"),
            ready=[listen],
        )
        assert echo_round_trip(listen, b"after a timeout", timeout=5) == b"after a timeout"
        assert live.served == 1
        assert daemon.alive()
    finally:
        live.stop()


def test_unresolvable_hostname_closes_the_client_and_says_why(start_znetd, hosts_file):
    """A name that does not resolve: the client is closed and the log names the host."""
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        args=["--proxy", f"{listen} nowhere.test:80"],
        wrap=hosts_file("127.0.0.1 localhost\n"),
        ready=[listen],
    )
    mark = daemon.stderr_mark()
    with connect(listen, timeout=10) as s:
        # Nothing is sent: closing a socket with unread input would turn the FIN into a RST.
        assert s.recv(100) == b""
    daemon.wait_stderr(r"cannot resolve 'nowhere\.test'", timeout=5, since=mark)
    assert daemon.alive()
