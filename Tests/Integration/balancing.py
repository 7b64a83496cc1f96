"""Backends for the balancing tests: servers that say who they are, and can be stopped and
started again on the same port (a backend killed and restarted)."""

import select
import socket
import threading

from conftest import connect, recv_line


class NamedBackend:
    """Greets each client with ``NAME\\n``, then echoes until the client closes.

    ``http_status`` set: answers an HTTP request line instead (health checks), with that status.
    Counts ``accepted`` and ``active``; :meth:`stop` closes the listener and every connection,
    :meth:`start` listens again on the same address.
    """

    def __init__(self, name, host="127.0.0.1", port=0):
        self.name = name
        self.host = host
        self.port = port
        self.accepted = 0
        self.active = 0
        self.http_status = None
        self.lock = threading.Lock()
        self.sock = None
        self.conns = set()
        self.start()

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def start(self):
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        self.sock = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def stop(self):
        sock, self.sock = self.sock, None
        if sock:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self, sock):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with self.lock:
            self.conns.add(conn)
        try:
            first = b""
            if self.http_status is not None:
                # A health check speaks first; a client waits for the greeting.
                readable, _, _ = select.select([conn], [], [], 0.5)
                first = conn.recv(4096) if readable else b""
                if first.startswith(b"GET "):
                    reply = f"HTTP/1.0 {self.http_status} X\r\nContent-Length: 0\r\n\r\n"
                    conn.sendall(reply.encode())
                    return
            with self.lock:
                self.accepted += 1
                self.active += 1
            try:
                conn.sendall(f"{self.name}\n".encode() + first)
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
            finally:
                with self.lock:
                    self.active -= 1
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns.discard(conn)
            conn.close()


def who(addr, timeout=10.0):
    """Connects through znetd and returns the name the backend greets with."""
    with connect(addr, timeout=timeout) as sock:
        return recv_line(sock).decode().strip()


def hold(addr, timeout=10.0):
    """Connects, reads the greeting; returns (socket, name). The caller closes the socket."""
    sock = connect(addr, timeout=timeout)
    return sock, recv_line(sock).decode().strip()
