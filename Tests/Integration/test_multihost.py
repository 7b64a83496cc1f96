"""Backends on separate "hosts": network namespaces joined to this one by veth pairs.

Tier 0 lives on host 1, tier 1 on host 2. Host 1's link is cut (its end of the veth pair goes
down, so SYNs to it vanish, as with a dead machine or a partition): znetd must notice within
its configured detection time (fall x interval + timeout) and serve every client from tier 1
meanwhile, each client retrying on its own within connect_timeout.
"""

import os
import shutil
import subprocess
import sys
import time

import pytest

from balancing import who
from conftest import free_port

SERVER = r"""
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(64)
print("listening", flush=True)
def serve(c):
    with c:
        c.sendall(name.encode() + b"\n")
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def hosts():
    """Two namespaces, 10.77.N.2 each, reachable from here through 10.77.N.1."""
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
    if not shutil.which("ip"):
        pytest.skip("iproute2 is not installed")
    tag = f"zb{os.getpid() % 100000}"
    made, servers = [], []
    try:
        for n in (1, 2):
            ns, outside, inside = f"{tag}h{n}", f"{tag}r{n}", f"{tag}i{n}"
            run("ip", "netns", "add", ns)
            made.append(ns)
            run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            made.append(outside)
            run("ip", "link", "set", inside, "netns", ns)
            run("ip", "addr", "add", f"10.77.{n}.1/24", "dev", outside)
            run("ip", "link", "set", outside, "up")
            run("ip", "netns", "exec", ns, "ip", "addr", "add", f"10.77.{n}.2/24", "dev", inside)
            run("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

        class Hosts:
            def serve(self, n, name, port):
                proc = subprocess.Popen(
                    ["ip", "netns", "exec", f"{tag}h{n}", sys.executable, "-c", SERVER, name, str(port)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                servers.append(proc)
                assert proc.stdout.readline() == b"listening\n", proc.stderr.read()

            def cut(self, n):
                run("ip", "netns", "exec", f"{tag}h{n}", "ip", "link", "set", f"{tag}i{n}", "down")

            def mend(self, n):
                run("ip", "netns", "exec", f"{tag}h{n}", "ip", "link", "set", f"{tag}i{n}", "up")

        yield Hosts()
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
        for thing in reversed(made):
            kind = ["netns", "del"] if thing.endswith(("h1", "h2")) else ["link", "del"]
            subprocess.run(["ip", *kind, thing], stderr=subprocess.DEVNULL)


def test_unreachable_tier_fails_over_within_the_detection_time(start_znetd, hosts):
    port = free_port()
    hosts.serve(1, "near", port)
    hosts.serve(2, "far", port)
    interval, timeout, fall = 0.2, 0.3, 2
    detection = fall * interval + timeout
    listen = f"127.0.0.1:{free_port()}"
    daemon = start_znetd(
        config=f"""
        services:
          pool:
            listen: "{listen}"
            tiers:
              - ["10.77.1.2:{port}"]
              - ["10.77.2.2:{port}"]
            connect_timeout: 300ms
            health: {{check: tcp, interval: 200ms, timeout: 300ms, rise: 1, fall: {fall}}}
        """,
        ready=[listen],
    )
    assert who(listen) == "near"
    mark = daemon.stderr_mark()
    cut_at = time.monotonic()
    hosts.cut(1)
    # Clients during the detection time are still served: a timed-out connect moves on to tier 1.
    assert who(listen, timeout=10) == "far"
    # Down by whichever fails first: health checks, or the clients' own connects (passive).
    daemon.wait_stderr(r"backend 10\.77\.1\.2:\d+ is down: (health check failed|connect failed): .*timed out",
                       timeout=10, since=mark)
    detected_after = time.monotonic() - cut_at
    # The bound is the configured detection time plus a generous allowance for a loaded machine
    # (the timer rounds and the log is polled); a health check that never ran would take forever.
    assert detected_after < detection + 5, f"detected after {detected_after:.1f}s"
    assert [who(listen) for _ in range(5)] == ["far"] * 5
    hosts.mend(1)
    daemon.wait_stderr(r"backend 10\.77\.1\.2:\d+ is up", timeout=15, since=mark)
