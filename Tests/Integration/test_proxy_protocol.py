"""proxy_protocol: v1 and v2 headers reach the backend before the client's bytes."""

import socket
import struct
import threading

from conftest import connect, free_port, recv_exact

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


class ProxyProtocolBackend:
    """Parses the PROXY header of each connection (v1 or v2), records it, then echoes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.headers = []
        self.errors = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(10)
            try:
                first = recv_exact(conn, 12)
                if first == V2_SIGNATURE:
                    ver_cmd, fam, length = struct.unpack("!BBH", recv_exact(conn, 4))
                    body = recv_exact(conn, length)
                    assert ver_cmd == 0x21, ver_cmd
                    assert fam == 0x11, fam
                    src, dst, sport, dport = struct.unpack("!4s4sHH", body)
                    self.headers.append(("v2", socket.inet_ntoa(src), sport, socket.inet_ntoa(dst), dport))
                else:
                    line = first
                    while not line.endswith(b"\r\n"):
                        line += recv_exact(conn, 1)
                    words = line.decode().split()
                    assert words[:2] == ["PROXY", "TCP4"], words
                    self.headers.append(("v1", words[2], int(words[4]), words[3], int(words[5])))
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)
            except Exception as exc:  # noqa: BLE001 - the test reads it
                self.errors.append(repr(exc))

    def stop(self):
        self.sock.close()


def run_proxy_protocol(start_znetd, version):
    backend = ProxyProtocolBackend()
    try:
        listen = f"127.0.0.1:{free_port()}"
        start_znetd(
            config=f"""
            services:
              pp:
                listen: "{listen}"
                target: "{backend.addr}"
                proxy_protocol: {version}
            """,
            ready=[listen],
        )
        with connect(listen) as sock:
            sock.sendall(b"hello through PROXY")
            assert recv_exact(sock, 19) == b"hello through PROXY"
            client_host, client_port = sock.getsockname()
        assert backend.errors == []
        assert backend.headers == [(version, client_host, client_port, "127.0.0.1", int(listen.split(":")[1]))]
    finally:
        backend.stop()


def test_proxy_protocol_v2_header_parsed_by_the_backend(start_znetd):
    run_proxy_protocol(start_znetd, "v2")


def test_proxy_protocol_v1_header_parsed_by_the_backend(start_znetd):
    run_proxy_protocol(start_znetd, "v1")


def test_haproxy_reads_the_v2_header(start_znetd, tmp_path):
    """HAProxy with accept-proxy behind znetd answers with the client address it was told."""
    import shutil
    import subprocess

    import pytest

    from conftest import wait_until

    if not shutil.which("haproxy"):
        pytest.skip("haproxy is not installed")
    hport = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"""
global
    log stderr local0
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
frontend fe
    bind 127.0.0.1:{hport} accept-proxy
    http-request return status 200 content-type text/plain lf-string "client=%[src]:%[src_port]"
""")
    haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        listen = f"127.0.0.1:{free_port()}"
        start_znetd(
            config=f"""
            services:
              pp:
                listen: "{listen}"
                target: "127.0.0.1:{hport}"
                proxy_protocol: v2
            """,
            ready=[listen],
        )

        def ask():
            try:
                with connect(listen, timeout=5) as sock:
                    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    reply = b""
                    while chunk := sock.recv(4096):
                        reply += chunk
                    return reply, "%s:%d" % sock.getsockname()
            except OSError:
                return None

        reply, client = wait_until(lambda: (r := ask()) and r[0] and r, timeout=10, message="haproxy to answer")
        assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200"), reply
        assert reply.endswith(f"client={client}".encode()), reply
    finally:
        haproxy.kill()
        haproxy.wait()
