#!/usr/bin/env python3
"""A configurable backend for znetd's on-demand integration tests (stdlib only).

It serves a line echo protocol: for every line ``L`` a client sends it answers
``PID:L`` (its own pid), so a test knows which backend process served it.

Every event is appended as one line to the ``--log`` file (one ``write`` each, so
several processes can share a file)::

    EVENT PID [ARGS...] t=MONOTONIC

``t`` is ``time.monotonic()`` (CLOCK_MONOTONIC, comparable with the test's own
``time.monotonic()``).  Events:

    start PID                 the process began (before --delay)
    cwd PID PATH              its working directory
    env PID NAME=VALUE        for each --log-env NAME (``NAME -`` when unset)
    grandchild PID CHILDPID   --grandchild: the ``sleep 300`` it spawned
    handoff PID NAME          --listen-fds: one per inherited listening socket
    handoff-error PID WHY     --listen-fds: the socket-activation variables are wrong
    listening PID             it listens (bound --port, or took the inherited fds)
    ready PID                 ready: right after listening, or with --notify once
                              READY=1 was sent to $NOTIFY_SOCKET
    conn PID                  a connection was accepted (znetd's readiness probe too)
    serve PID                 a connection sent its first line (a real client)
    stop PID SIGNAL           a stop signal arrived (TERM, INT, HUP, QUIT, USR1, USR2)
    exit PID CODE REASON      it is about to exit (crash, signal, idle, after-signal)

Options:

    --port P              listen on 127.0.0.1:P (not with --listen-fds)
    --log FILE            the event log (required)
    --delay S             sleep S seconds before listening (a slow start)
    --notify              send READY=1 to $NOTIFY_SOCKET ("@name" = abstract address)
    --notify-delay S      with --notify: listen (and serve) at once, but send READY=1
                          only S seconds later, so a TCP probe would see it earlier
    --grandchild          spawn ``sleep 300`` (same process group) and log its pid
    --ignore-term-for S   on a stop signal keep serving S more seconds, then exit 0
    --crash               print a message and exit 3 at once
    --listen-fds          socket activation: serve the fds from 3 given by $LISTEN_FDS
                          (checks $LISTEN_PID == getpid(); logs $LISTEN_FDNAMES)
    --idle-exit S         exit 0 after S seconds without any connection
    --pidfile FILE        write the pid there at start
    --log-env NAME        log the value of $NAME (repeatable)

It also prints one line to stdout and one to stderr at start
(``backend.py[PID] stdout ...`` / ``backend.py[PID] stderr ...``) so a test can see
where the backend's output goes.
"""

import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

PID = os.getpid()
STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


class State:
    log_path = None
    lock = threading.Lock()
    active = 0
    last_activity = time.monotonic()
    stop_deadline = None
    ignore_stop_for = None


def log(event, *fields):
    line = " ".join([event, str(PID)] + [str(f) for f in fields] + [f"t={time.monotonic():.6f}"])
    fd = os.open(State.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def finish(code, reason):
    log("exit", code, reason)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def on_stop_signal(signum, _frame):
    name = signal.Signals(signum).name[3:]
    log("stop", name)
    if State.ignore_stop_for is None:
        finish(0, "signal")
    if State.stop_deadline is None:
        State.stop_deadline = time.monotonic() + State.ignore_stop_for


def serve_connection(conn):
    try:
        conn.setblocking(True)
        conn.settimeout(120)
        reader = conn.makefile("rb")
        for n, raw in enumerate(reader):
            if n == 0:
                log("serve")
            line = raw.rstrip(b"\r\n")
            conn.sendall(b"%d:%s\n" % (PID, line))
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass
        with State.lock:
            State.active -= 1
            State.last_activity = time.monotonic()


def inherited_sockets():
    """The listening sockets of socket activation, after checking the variables."""
    listen_pid = os.environ.get("LISTEN_PID")
    listen_fds = os.environ.get("LISTEN_FDS")
    if listen_pid != str(PID):
        log("handoff-error", f"LISTEN_PID={listen_pid}")
        finish(4, "bad-LISTEN_PID")
    try:
        count = int(listen_fds or "")
    except ValueError:
        count = 0
    if count < 1:
        log("handoff-error", f"LISTEN_FDS={listen_fds}")
        finish(4, "bad-LISTEN_FDS")
    names = (os.environ.get("LISTEN_FDNAMES") or "").split(":")
    socks = []
    for i in range(count):
        fd = 3 + i
        try:
            sock = socket.socket(fileno=fd)
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError as exc:
            log("handoff-error", f"fd{fd}:{exc.__class__.__name__}")
            finish(4, "bad-fd")
        if not listening:
            log("handoff-error", f"fd{fd}:not-listening")
            finish(4, "bad-fd")
        name = names[i] if i < len(names) and names[i] else "-"
        log("handoff", name)
        socks.append(sock)
    return socks


def own_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def send_ready():
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        log("error", "no-NOTIFY_SOCKET")
        finish(5, "no-NOTIFY_SOCKET")
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(b"READY=1\nSTATUS=serving\n")
    log("ready")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int)
    parser.add_argument("--log", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--notify", action="store_true")
    parser.add_argument("--notify-delay", type=float, default=0.0)
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--ignore-term-for", type=float, default=None)
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("--listen-fds", action="store_true")
    parser.add_argument("--idle-exit", type=float, default=None)
    parser.add_argument("--pidfile")
    parser.add_argument("--log-env", action="append", default=[])
    args = parser.parse_args()
    if not args.listen_fds and args.port is None:
        parser.error("--port is required without --listen-fds")

    State.log_path = args.log
    State.ignore_stop_for = args.ignore_term_for
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), on_stop_signal)

    log("start")
    log("cwd", os.getcwd())
    for name in args.log_env:
        value = os.environ.get(name)
        log("env", f"{name}={value}" if value is not None else f"{name} -")
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{PID}\n")
    print(f"backend.py[{PID}] stdout says hello", flush=True)
    print(f"backend.py[{PID}] stderr says hello", file=sys.stderr, flush=True)

    if args.crash:
        print(f"backend.py[{PID}] crashing on purpose (exit 3)", file=sys.stderr, flush=True)
        finish(3, "crash")

    if args.grandchild:
        child = subprocess.Popen(
            ["sleep", "300"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        log("grandchild", child.pid)

    if args.delay > 0:
        end = time.monotonic() + args.delay
        while time.monotonic() < end:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    socks = inherited_sockets() if args.listen_fds else [own_socket(args.port)]
    sel = selectors.DefaultSelector()
    for sock in socks:
        if not args.listen_fds:
            # Inherited sockets keep their file status flags: they are shared with
            # znetd, and a socket-activated server normally leaves them alone.
            sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
    log("listening")

    notify_at = None
    if args.notify:
        notify_at = time.monotonic() + args.notify_delay
    else:
        log("ready")

    with State.lock:
        State.last_activity = time.monotonic()
    while True:
        now = time.monotonic()
        if notify_at is not None and now >= notify_at:
            notify_at = None
            send_ready()
        if State.stop_deadline is not None and now >= State.stop_deadline:
            finish(0, "after-signal")
        if args.idle_exit is not None:
            with State.lock:
                idle = State.active == 0 and now - State.last_activity >= args.idle_exit
            if idle:
                finish(0, "idle")
        for key, _mask in sel.select(timeout=0.02):
            try:
                conn, _peer = key.fileobj.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                continue
            with State.lock:
                State.active += 1
                State.last_activity = time.monotonic()
            log("conn")
            threading.Thread(target=serve_connection, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
