"""Shared HTTP listeners: requests routed by Host and path with real curl, to real HTTP
servers; 404, 503 with Retry-After, keep-alive re-routing, X-Forwarded-*, on-demand wake-up,
streamed bodies and reload of routes."""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import free_port, wait_until
from httpbackends import HTTPBackend

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@pytest.fixture
def http_backends():
    made = []

    def make(name):
        backend = HTTPBackend(name)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.stop()


def curl(*args, timeout=20):
    """curl with its status code and body; -sS so errors show."""
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout - 2), *args],
                          capture_output=True, text=True, timeout=timeout)


def get(port, path, host, *extra):
    result = curl("-H", f"Host: {host}", *extra, f"http://127.0.0.1:{port}{path}")
    assert result.returncode == 0, result.stderr
    return result.stdout


def status_and_headers(port, path, host):
    result = curl("-i", "-H", f"Host: {host}", f"http://127.0.0.1:{port}{path}")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def read_head(sock):
    """Bytes from ``sock`` up to and including the end of an HTTP head (and any after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed before the end of the head: {data!r}"
        data += chunk
    return data


def read_to_eof(sock, received=b""):
    while chunk := sock.recv(65536):  # a socket.timeout here fails the test
        received += chunk
    return received


def three_services_config(port, blog, api, shop, extra=""):
    return f"""
        listeners:
          web:
            listen: "127.0.0.1:{port}"
        services:
          blog:
            routes:
              - {{listener: web, host: blog.example.com}}
              - {{listener: web, host: "*.blog.example.com"}}
            target: "{blog.addr}"
          api:
            routes:
              - {{listener: web, path: /api}}
              - {{listener: web, host: blog.example.com, path: /blog/api}}
            target: "{api.addr}"
          shop:
            routes: [{{listener: web, host: shop.example.com}}]
            target: "{shop.addr}"
        {extra}
        """


def test_three_services_on_one_port_by_host_and_path(start_znetd, http_backends):
    blog, api, shop = http_backends("blog"), http_backends("api"), http_backends("shop")
    port = free_port()
    start_znetd(config=three_services_config(port, blog, api, shop), ready=[f"127.0.0.1:{port}"])

    assert get(port, "/post/1", "blog.example.com") == "blog /post/1 0\n"
    # The port of Host is ignored, its case too.
    assert get(port, "/", "BLOG.example.com:8080") == "blog / 0\n"
    # Wildcard host.
    assert get(port, "/x", "en.blog.example.com") == "blog /x 0\n"
    # Longest prefix: /blog/api of blog.example.com beats the host's /.
    assert get(port, "/blog/api/v1", "blog.example.com") == "api /blog/api/v1 0\n"
    assert get(port, "/blog/apis", "blog.example.com") == "blog /blog/apis 0\n"
    # A path route without host, for any other host.
    assert get(port, "/api/users?x=1", "anything.test") == "api /api/users?x=1 0\n"
    assert get(port, "/", "shop.example.com") == "shop / 0\n"
    assert [r["path"] for r in shop.seen()] == ["/"]


def test_unknown_host_or_path_is_404(start_znetd, http_backends):
    blog, api, shop = http_backends("blog"), http_backends("api"), http_backends("shop")
    port = free_port()
    start_znetd(config=three_services_config(port, blog, api, shop), ready=[f"127.0.0.1:{port}"])

    status, headers, body = status_and_headers(port, "/", "nowhere.example.org")
    assert status == 404
    assert "nowhere.example.org" in body
    assert int(headers["content-length"]) == len(body.encode())
    # A dot segment cannot climb out of the route's prefix.
    status, _, _ = status_and_headers(port, "/api/../secret", "nowhere.example.org")
    assert status == 404
    assert blog.seen() == [] and api.seen() == [] and shop.seen() == []


def test_refused_backend_is_502_and_the_next_backend_serves(start_znetd, http_backends):
    """A backend that refuses the connection: the next one serves the request; a service whose
    every backend refuses answers 502 at once (not when the client gives up)."""
    live = http_backends("live")
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    port = free_port()
    start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          down:
            routes: [{{listener: web, host: down.test}}]
            target: "{dead}"
          mixed:
            routes: [{{listener: web, host: mixed.test}}]
            targets: ["{dead}", "{live.addr}"]
            balance: round-robin
        """, ready=[f"127.0.0.1:{port}"])
    started = time.monotonic()
    status, headers, body = status_and_headers(port, "/", "down.test")
    assert status == 502
    assert int(headers["content-length"]) == len(body.encode())
    assert time.monotonic() - started < 5
    for index in range(4):
        assert get(port, f"/{index}", "mixed.test") == f"live /{index} 0\n"


def test_keep_alive_connection_is_routed_per_request(start_znetd, http_backends):
    """One curl, two URLs on one connection, two services: each backend sees its request,
    and curl reuses the connection."""
    blog, api, shop = http_backends("blog"), http_backends("api"), http_backends("shop")
    port = free_port()
    start_znetd(config=three_services_config(port, blog, api, shop), ready=[f"127.0.0.1:{port}"])

    result = curl("-v", "-H", "Host: blog.example.com", f"http://127.0.0.1:{port}/one",
                  f"http://127.0.0.1:{port}/blog/api/two", f"http://127.0.0.1:{port}/three")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "blog /one 0\napi /blog/api/two 0\nblog /three 0\n"
    assert "Re-using existing connection" in result.stderr or "Reusing existing connection" in result.stderr
    assert result.stderr.count("Connected to") == 1
    assert [r["path"] for r in blog.seen()] == ["/one", "/three"]
    assert [r["path"] for r in api.seen()] == ["/blog/api/two"]
    # znetd went to blog's backend twice, on two connections (api's request came between).
    assert len({r["client_port"] for r in blog.seen()}) == 2


def test_forwarded_headers_reach_the_backend(start_znetd, http_backends):
    blog, api, shop = http_backends("blog"), http_backends("api"), http_backends("shop")
    port = free_port()
    start_znetd(config=three_services_config(port, blog, api, shop), ready=[f"127.0.0.1:{port}"])

    get(port, "/", "blog.example.com", "-H", "X-Forwarded-For: 203.0.113.7", "-H", "X-Forwarded-Proto: https")
    headers = blog.seen()[0]["headers"]
    assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"  # the client's claim is replaced
    assert headers["x-forwarded-host"] == "blog.example.com"
    assert "forwarded" not in headers


def test_forwarded_style_rfc7239(start_znetd, http_backends):
    app = http_backends("app")
    port = free_port()
    start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}", forwarded: forwarded}}
        services:
          app: {{routes: [{{listener: web}}], target: "{app.addr}"}}
        """, ready=[f"127.0.0.1:{port}"])
    get(port, "/", "app.test")
    headers = app.seen()[0]["headers"]
    assert headers["forwarded"] == 'for=127.0.0.1;proto=http;host="app.test"'
    assert "x-forwarded-for" not in headers


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_bodies_stream_both_ways(start_znetd, http_backends):
    """A 32 MiB upload (Content-Length and chunked) and a 64 MiB download arrive whole, and
    znetd's memory never holds them: its peak RSS stays far below their size."""
    app = http_backends("app")
    port = free_port()
    daemon = start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          app: {{routes: [{{listener: web}}], target: "{app.addr}"}}
        """, ready=[f"127.0.0.1:{port}"])
    payload = os.urandom(32 << 20)
    result = subprocess.run(["curl", "-sS", "--max-time", "60", "--data-binary", "@-",
                             f"http://127.0.0.1:{port}/up"], input=payload, capture_output=True, timeout=70)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"app /up {len(payload)}\n".encode()
    result = subprocess.run(["curl", "-sS", "--max-time", "60", "-H", "Transfer-Encoding: chunked",
                             "--data-binary", "@-", f"http://127.0.0.1:{port}/chunked"],
                            input=payload[:5 << 20], capture_output=True, timeout=70)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"app /chunked {5 << 20}\n".encode()
    size = 64 << 20
    result = subprocess.run(["curl", "-sS", "--max-time", "60", f"http://127.0.0.1:{port}/big/{size}"],
                            capture_output=True, timeout=70)
    assert result.returncode == 0, result.stderr
    piece = bytes(range(256)) * 4096
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256((piece * 64)[:size]).digest()
    peak = peak_rss_kib(daemon.pid)
    print(f"znetd peak RSS after 101 MiB of bodies: {peak} KiB")
    assert peak < 24 * 1024


def test_on_demand_backend_is_woken_by_a_request(start_znetd, tmp_path):
    port, backend_port = free_port(), free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "hello.txt").write_text("hello from the woken backend\n")
    start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          lazy:
            routes: [{{listener: web, host: lazy.test}}]
            target: "127.0.0.1:{backend_port}"
            command: ["{sys.executable}", "-m", "http.server", "{backend_port}", "--bind", "127.0.0.1",
                      "--directory", "{tmp_path / 'www'}"]
            start_timeout: 20s
        """, ready=[f"127.0.0.1:{port}"])
    assert get(port, "/hello.txt", "lazy.test") == "hello from the woken backend\n"


def test_on_demand_backend_sleeps_after_http_traffic_stops(start_znetd, tmp_path):
    """Keep-alive requests keep the backend awake; once the client is gone it stops after
    stop_after, and the next request wakes it again."""
    port, backend_port = free_port(), free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "a.txt").write_text("a\n")
    daemon = start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          lazy:
            routes: [{{listener: web}}]
            target: "127.0.0.1:{backend_port}"
            command: ["{sys.executable}", "-m", "http.server", "{backend_port}", "--bind", "127.0.0.1",
                      "--directory", "{tmp_path / 'www'}"]
            start_timeout: 20s
            stop_after: 1s
        """, ready=[f"127.0.0.1:{port}"])
    assert get(port, "/a.txt", "x.test") == "a\n"
    daemon.wait_stderr(r"stopping backend: .*idle", timeout=10)
    mark = daemon.stderr_mark()
    assert get(port, "/a.txt", "x.test") == "a\n"
    daemon.wait_stderr(r"waking backend", since=mark)


def test_half_closed_client_gets_its_response_then_eof(start_znetd, http_backends):
    """A client that sends its request and shuts down its side (as `nc -N` does) gets the
    whole response and then EOF, not a connection left open until the keep-alive timeout."""
    app = http_backends("app")
    port = free_port()
    start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          app: {{routes: [{{listener: web}}], target: "{app.addr}"}}
        """, ready=[f"127.0.0.1:{port}"])
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"GET /half HTTP/1.1\r\nHost: x.test\r\n\r\n")
    client.shutdown(socket.SHUT_WR)
    received = read_to_eof(client)
    client.close()
    assert received.startswith(b"HTTP/1.0 200") or received.startswith(b"HTTP/1.1 200")
    assert received.endswith(b"app /half 0\n")


def test_stop_finishes_requests_in_flight_then_exits(start_znetd, http_backends):
    """SIGTERM: a request in flight gets its whole response, then its keep-alive connection is
    closed and znetd exits, long before the keep-alive timeout or drain_timeout."""
    app = http_backends("app")
    port = free_port()
    daemon = start_znetd(config=f"""
        drain_timeout: 30s
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          app: {{routes: [{{listener: web}}], target: "{app.addr}"}}
        """, ready=[f"127.0.0.1:{port}"])
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)  # never sends anything
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(b"GET /slow/1 HTTP/1.1\r\nHost: x.test\r\n\r\n")
    time.sleep(0.3)
    began = time.monotonic()
    daemon.signal(signal.SIGTERM)
    received = read_to_eof(client)
    assert received.endswith(b"app /slow/1 0\n")
    assert idle.recv(1) == b""
    assert daemon.wait_exit(timeout=10) == 0
    assert time.monotonic() - began < 10
    client.close()
    idle.close()


def test_upgrade_becomes_a_tunnel(start_znetd):
    """A 101 Switching Protocols (as for WebSocket) turns the connection into a byte tunnel
    both ways, with half-close passed on."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def upgrade_and_echo():
        conn, _ = server.accept()
        read_head(conn)
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
        while data := conn.recv(65536):
            conn.sendall(data.upper())
        conn.close()

    thread = threading.Thread(target=upgrade_and_echo, daemon=True)
    thread.start()
    port = free_port()
    start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          ws: {{routes: [{{listener: web, path: /ws}}], target: "127.0.0.1:{server.getsockname()[1]}"}}
        """, ready=[f"127.0.0.1:{port}"])
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"GET /ws HTTP/1.1\r\nHost: x.test\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
    head = read_head(client)
    assert head.startswith(b"HTTP/1.1 101 ")
    payload = os.urandom(300_000).hex().encode()
    client.sendall(payload)
    client.shutdown(socket.SHUT_WR)
    assert read_to_eof(client, head.split(b"\r\n\r\n", 1)[1]) == payload.upper()
    thread.join(5)
    server.close()


def test_proxy_protocol_header_starts_each_backend_connection(start_znetd):
    """A service with proxy_protocol: v1 gets the client's PROXY line before the request, on
    the backend connections of a shared listener too."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    seen = []

    def serve_one():
        conn, _ = server.accept()
        seen.append(read_head(conn))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        conn.close()

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    port = free_port()
    start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          app:
            routes: [{{listener: web}}]
            target: "127.0.0.1:{server.getsockname()[1]}"
            proxy_protocol: v1
        """, ready=[f"127.0.0.1:{port}"])
    assert get(port, "/p", "x.test") == "ok\n"
    thread.join(5)
    server.close()
    first_line, rest = seen[0].split(b"\r\n", 1)
    assert first_line.startswith(b"PROXY TCP4 127.0.0.1 127.0.0.1 ")
    assert first_line.endswith(f" {port}".encode())
    assert rest.startswith(b"GET /p HTTP/1.1\r\n")


def test_max_connections_answers_503_when_full(start_znetd, tmp_path):
    """A service at max_connections answers further requests 503 at once."""
    port, backend_port = free_port(), free_port()
    # A backend that accepts and never answers holds the one slot.
    silent = socket.socket()
    silent.bind(("127.0.0.1", backend_port))
    silent.listen(8)
    try:
        start_znetd(config=f"""
            listeners:
              web: {{listen: "127.0.0.1:{port}"}}
            services:
              one:
                routes: [{{listener: web}}]
                target: "127.0.0.1:{backend_port}"
                max_connections: 1
            """, ready=[f"127.0.0.1:{port}"])
        first = socket.create_connection(("127.0.0.1", port), timeout=5)
        first.sendall(b"GET /slow HTTP/1.1\r\nHost: x.test\r\n\r\n")
        held, _ = silent.accept()  # znetd connected: the slot is taken
        status, headers, _ = status_and_headers(port, "/", "x.test")
        assert status == 503
        assert headers["retry-after"] == "1"
        held.close()
        first.close()
    finally:
        silent.close()


def test_backend_not_ready_within_start_timeout_is_503(start_znetd):
    port, backend_port = free_port(), free_port()
    daemon = start_znetd(config=f"""
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          stuck:
            routes: [{{listener: web}}]
            target: "127.0.0.1:{backend_port}"
            command: [/bin/sleep, "60"]
            start_timeout: 2s
        """, ready=[f"127.0.0.1:{port}"])
    began = time.monotonic()
    status, headers, body = status_and_headers(port, "/", "stuck.test")
    assert status == 503
    assert headers["retry-after"] == "2"
    assert time.monotonic() - began >= 1.5
    daemon.wait_stderr(r"not ready within start_timeout")


def test_reload_applies_route_changes(start_znetd, http_backends):
    one, two = http_backends("one"), http_backends("two")
    port = free_port()
    config = """
        listeners:
          web: {{listen: "127.0.0.1:{port}"}}
        services:
          one: {{routes: [{{listener: web, host: {host_one}}}], target: "{one}"}}
          two: {{routes: [{{listener: web, host: {host_two}}}], target: "{two}"}}
        """
    daemon = start_znetd(config=config.format(port=port, one=one.addr, two=two.addr, host_one="a.test",
                                              host_two="b.test"), ready=[f"127.0.0.1:{port}"])
    assert get(port, "/", "a.test") == "one / 0\n"
    daemon.write_config(config.format(port=port, one=one.addr, two=two.addr, host_one="b.test",
                                      host_two="a.test"))
    mark = daemon.stderr_mark()
    daemon.signal(signal.SIGHUP)
    daemon.wait_stderr("configuration reloaded", since=mark)
    assert get(port, "/", "a.test") == "two / 0\n"
    assert get(port, "/", "b.test") == "one / 0\n"
