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
