"""Routes registered at run time on a shared listener (``znetd register --listener``): they
serve real curl requests, show in ``znetd status`` and the metrics, survive a reload, and go
when unregistered; a route the table already has, or one on an unknown listener, is refused."""

import json
import shutil
import signal
import subprocess

import pytest

from conftest import free_port, wait_until
from control_client import znetd_cli
from httpbackends import HTTPBackend

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def request(port, host, path):
    """(status code, body) of one GET through the listener."""
    result = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", "-H", f"Host: {host}",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stderr
    body, _, code = result.stdout.rpartition("\n")
    return int(code), body.rstrip("\n")


@pytest.fixture
def site(start_znetd, sock_dir, tmp_path):
    blog, docs = HTTPBackend("blog"), HTTPBackend("docs")
    port = free_port()
    control = sock_dir / "control.sock"
    config = f"""
        listeners:
          web:
            listen: "127.0.0.1:{port}"
        services:
          blog:
            routes: [{{listener: web, host: blog.test}}]
            target: "{blog.addr}"
          docs:
            # Reached only by routes registered at run time, apart from this one.
            routes: [{{listener: web, host: docs.test, path: /configured}}]
            target: "{docs.addr}"
        """
    daemon = start_znetd(config=config, args=["--control-socket", control, "--state-directory", tmp_path],
                         ready=[f"127.0.0.1:{port}"])
    wait_until(lambda: control.exists(), 5, message="control socket")
    yield daemon, port, control, blog, docs
    blog.stop()
    docs.stop()


def listener_status(znetd_bin, control):
    result = znetd_cli(znetd_bin, "status", "--json", "--control-socket", control)
    assert result.returncode == 0, result.stderr
    (daemon,) = json.loads(result.stdout)["znetd"]
    return {listener["name"]: listener for listener in daemon["listeners"]}


def test_registered_route_serves_until_unregistered(site, znetd_bin):
    daemon, port, control, blog, docs = site
    assert request(port, "docs.test", "/guide/intro")[0] == 404
    assert request(port, "www.docs.test", "/")[0] == 404

    route = ["--listener", "web", "--host", "*.docs.test", "--service", "docs", "--control-socket", control]
    result = znetd_cli(znetd_bin, "register", *route)
    assert result.returncode == 0, result.stderr
    assert request(port, "www.docs.test", "/guide/intro") == (200, "docs /guide/intro 0")
    result = znetd_cli(znetd_bin, "register", "--listener", "web", "--host", "docs.test", "--path", "/guide",
                       "--service", "docs", "--control-socket", control)
    assert result.returncode == 0, result.stderr
    assert request(port, "docs.test", "/guide/intro") == (200, "docs /guide/intro 0")
    assert request(port, "docs.test", "/guidebook")[0] == 404  # a path prefix ends at a segment
    assert [r["path"] for r in docs.seen()] == ["/guide/intro", "/guide/intro"]

    # The listener's status lists the configured and the registered routes, and counts.
    web = listener_status(znetd_bin, control)["web"]
    assert web["mode"] == "http" and web["tls"] is False
    routes = {(r["host"], r["path"], r["service"], r["registered"]) for r in web["routes"]}
    assert routes == {("blog.test", "/", "blog", False), ("docs.test", "/configured", "docs", False),
                      ("*.docs.test", "/", "docs", True), ("docs.test", "/guide", "docs", True)}
    assert web["routed"] == 2 and web["unrouted"] == 3
    table = znetd_cli(znetd_bin, "status", "--control-socket", control).stdout
    assert "route docs.test/guide -> docs (registered)" in table
    metrics = znetd_cli(znetd_bin, "metrics", "--control-socket", control).stdout
    assert 'znetd_listener_requests_total{listener="web",result="routed"} 2' in metrics

    # A reload keeps registered routes.
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_stderr("reload", timeout=10)
    assert request(port, "docs.test", "/guide/x")[0] == 200

    for extra in (["--host", "*.docs.test"], ["--host", "docs.test", "--path", "/guide"]):
        result = znetd_cli(znetd_bin, "unregister", "--now", "--listener", "web", *extra,
                           "--service", "docs", "--control-socket", control)
        assert result.returncode == 0, result.stderr
    assert request(port, "docs.test", "/guide/intro")[0] == 404
    assert request(port, "www.docs.test", "/")[0] == 404
    assert request(port, "blog.test", "/") == (200, "blog / 0")
    assert {r["registered"] for r in listener_status(znetd_bin, control)["web"]["routes"]} == {False}


def test_route_registrations_that_cannot_be(site, znetd_bin):
    _, port, control, _, _ = site

    def register(*args):
        return znetd_cli(znetd_bin, "register", *args, "--control-socket", control)

    taken = register("--listener", "web", "--host", "blog.test", "--service", "docs")
    assert taken.returncode == 1
    assert "blog.test/ already routes somewhere on listener 'web'" in taken.stderr
    unknown = register("--listener", "nope", "--host", "a.test", "--service", "docs")
    assert unknown.returncode == 1
    assert "no listener 'nope' in this znetd" in unknown.stderr
    relative = register("--listener", "web", "--path", "guide", "--service", "docs")
    assert relative.returncode == 1
    assert "\"path\" must start with '/'" in relative.stderr
    no_service = register("--listener", "web", "--host", "a.test", "--service", "ghost")
    assert no_service.returncode == 1
    assert "no service 'ghost'" in no_service.stderr
    assert request(port, "blog.test", "/")[1] == "blog / 0"
