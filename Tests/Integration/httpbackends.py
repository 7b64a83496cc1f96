"""HTTP backends for the shared-listener tests: real HTTP/1.1 servers (Python's http.server)
that answer ``NAME PATH`` and remember every request they saw, with its headers and the
client port (one port per connection from znetd)."""

from __future__ import annotations

import http.server
import threading
import time


class HTTPBackend:
    """A threaded HTTP/1.1 server on 127.0.0.1 (keep-alive), named for its answers."""

    def __init__(self, name):
        self.name = name
        self.requests = []
        self.lock = threading.Lock()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, body_in=b""):
                with backend.lock:
                    backend.requests.append({
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "client_port": self.client_address[1],
                        "body_length": len(body_in),
                    })
                body = f"{backend.name} {self.path} {len(body_in)}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith("/big/"):
                    return self._big(int(self.path[5:]))
                if self.path.startswith("/slow/"):
                    time.sleep(float(self.path[6:]))
                self._answer()

            def _big(self, size):
                """``size`` bytes of a repeating pattern, written in 1 MiB pieces."""
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                piece = bytes(range(256)) * 4096
                left = size
                while left > 0:
                    self.wfile.write(piece[:min(left, len(piece))])
                    left -= len(piece)

            def do_HEAD(self):
                self._answer()

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                received = b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        received += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    while len(received) < length:
                        chunk = self.rfile.read(min(1 << 20, length - len(received)))
                        if not chunk:
                            break
                        received += chunk
                self._answer(received)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def seen(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
