"""TCP client for the system tests, run inside a sandbox's network namespace.

conftest.py starts it as ``nsenter -t SANDBOX_PID -n -- python3 netclient.py MODE JSON``:
the process joins only the sandbox's network namespace, so ``127.0.0.1`` is the sandbox's
loopback while this file and the Python interpreter still come from the host.

Standard library only.  Every mode prints exactly one JSON object as its last line of stdout
(``loop`` and ``hold`` print progress lines before it).  Byte strings are base64-encoded.

Modes
-----
``request``  connect, send ``data``, optionally half-close, read until EOF (or
             ``io_timeout``); with ``http`` read until the HTTP response is complete
             (Content-Length), then wait up to ``eof_wait`` seconds for the server's EOF.
             -> {"local": [host, port], "sent": n, "received": b64, "error": str|null,
                 "seconds": t, "complete": bool, "eof": bool, "eof_after": t|null}
``loop``     make connections back to back, each sending ``data`` and reading to EOF (with
             ``http``: to the end of the response), and check each reply contains
             ``expect``.  Prints ``progress N`` after every connection.  Stops after ``max``
             connections, at ``deadline`` seconds, or once stdin is closed and at least
             ``min`` connections were made.
             -> {"count": n, "failures": [{"i", "t", "error"}], "first": t0, "last": t1,
                 "times": [...]}
``hold``     connect, send ``data``, print ``connected HOST PORT`` and keep the connection
             open until the peer closes it, stdin is closed, or ``hold_for`` seconds.
             -> {"closed_by": "peer"|"stdin"|"timeout"|"error", "held": seconds,
                 "closed_at": unix time, "received": b64, "error": str|null}
"""

import base64
import json
import os
import select
import socket
import sys
import time


def b64(data):
    return base64.b64encode(data).decode("ascii")


def describe(exc):
    return f"{type(exc).__name__}: {exc}"


def http_complete(received):
    """True once ``received`` holds a whole HTTP response with a Content-Length."""
    head, sep, body = received.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def one_request(host, port, data, timeout, half_close, http=False, eof_wait=0.0):
    """Connect, send, read to EOF, or with ``http`` until the response is complete (then
    wait up to ``eof_wait`` s for the server's EOF).  Returns a dict."""
    started = time.monotonic()
    received = bytearray()
    out = {"local": None, "sent": 0, "complete": False, "eof": False, "eof_after": None}
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            out["local"] = list(sock.getsockname()[:2])
            if data:
                sock.sendall(data)
                out["sent"] = len(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            complete_at = None
            while True:
                if http and complete_at is None and http_complete(received):
                    out["complete"], complete_at = True, time.monotonic()
                    if eof_wait <= 0:
                        break
                    sock.settimeout(eof_wait)
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    if complete_at is None:
                        raise
                    break  # complete, but no EOF within eof_wait
                if not chunk:
                    out["eof"] = True
                    if complete_at is not None:
                        out["eof_after"] = time.monotonic() - complete_at
                    break
                received += chunk
        out["error"] = None
    except OSError as exc:  # refused, reset, timeout (socket.timeout is an OSError)
        out["error"] = describe(exc)
    out["received"] = bytes(received)
    out["seconds"] = time.monotonic() - started
    return out


def stdin_closed():
    """True once stdin reached EOF (the parent closed it)."""
    ready, _, _ = select.select([sys.stdin.buffer], [], [], 0)
    if not ready:
        return False
    return os.read(sys.stdin.fileno(), 4096) == b""


def mode_request(p):
    out = one_request(p.get("host", "127.0.0.1"), p["port"],
                      base64.b64decode(p.get("data", "")), p.get("io_timeout", 5),
                      p.get("half_close", False), p.get("http", False), p.get("eof_wait", 0))
    out["received"] = b64(out["received"])
    return out


def mode_loop(p):
    host, port = p.get("host", "127.0.0.1"), p["port"]
    data = base64.b64decode(p.get("data", ""))
    expect = base64.b64decode(p.get("expect", ""))
    minimum, maximum = p.get("min", 200), p.get("max", 100000)
    deadline = time.time() + p.get("deadline", 60)
    failures, times = [], []
    stdin_open = True
    count = 0
    first = time.time()
    while count < maximum and time.time() < deadline:
        if stdin_open and stdin_closed():
            stdin_open = False
        if not stdin_open and count >= minimum:
            break
        t = time.time()
        out = one_request(host, port, data, p.get("io_timeout", 5), False, p.get("http", False))
        received, error = out["received"], out["error"]
        if error is None and p.get("http") and not out["complete"]:
            error = f"incomplete HTTP response: {received[:200]!r}"
        if error is None and expect and expect not in received:
            error = f"reply without {expect!r}: {received[:200]!r}"
        if error is not None:
            failures.append({"i": count, "t": t, "error": error})
        times.append(t)
        count += 1
        print(f"progress {count}", flush=True)
    return {"count": count, "failures": failures, "first": first, "last": time.time(),
            "times": times}


def mode_hold(p):
    received = bytearray()
    try:
        sock = socket.create_connection((p.get("host", "127.0.0.1"), p["port"]), timeout=10)
    except OSError as exc:
        return {"closed_by": "error", "held": 0, "received": "", "error": describe(exc)}
    data = base64.b64decode(p.get("data", ""))
    if data:
        sock.sendall(data)
    local = sock.getsockname()
    print(f"connected {local[0]} {local[1]}", flush=True)
    started = time.monotonic()
    deadline = started + p.get("hold_for", 60)
    closed_by, error = "timeout", None
    sock.setblocking(False)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock, sys.stdin.buffer], [], [],
                                    max(0.0, deadline - time.monotonic()))
        if sock in ready:
            try:
                chunk = sock.recv(65536)
            except OSError as exc:  # a reset also ends the hold
                closed_by, error = "peer", describe(exc)
                break
            if not chunk:
                closed_by = "peer"
                break
            received += chunk
        if sys.stdin.buffer in ready and os.read(sys.stdin.fileno(), 4096) == b"":
            closed_by = "stdin"
            break
    held, closed_at = time.monotonic() - started, time.time()
    sock.close()
    return {"closed_by": closed_by, "held": held, "closed_at": closed_at,
            "received": b64(received), "error": error}


def main():
    mode, params = sys.argv[1], json.loads(sys.argv[2])
    result = {"request": mode_request, "loop": mode_loop, "hold": mode_hold}[mode](params)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
