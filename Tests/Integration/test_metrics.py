"""Prometheus metrics on metrics_listen, scraped with curl, match what the test did."""

import re
import shutil
import subprocess

import pytest

from conftest import echo_round_trip, free_port, wait_until
from control_client import status_json


def scrape(url, *extra):
    if shutil.which("curl") is None:
        pytest.skip("curl is needed")
    return subprocess.run(["curl", "-sS", "--max-time", "5", *extra, url], capture_output=True, text=True)


def samples(text):
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def test_metrics_match_traffic(start_znetd, sock_dir, backends, znetd_bin):
    echo = backends.echo()
    listen = f"127.0.0.1:{free_port()}"
    metrics = f"127.0.0.1:{free_port()}"
    control = sock_dir / "c.sock"
    start_znetd(config=f"""
        metrics_listen: "{metrics}"
        services:
          web:
            listen: "{listen}"
            targets: ["{echo.addr}", "127.0.0.1:1"]
            health: {{check: tcp, interval: 200ms, fall: 1}}
        """, args=["--control-socket", control], ready=[listen, metrics])
    for size in (10, 20, 30):
        assert echo_round_trip(listen, b"y" * size) == b"y" * size
    wait_until(lambda: status_json(znetd_bin, control)["web"]["backends"][1]["up"] is False, 5,
               message="dead backend down")

    result = scrape(f"http://{metrics}/metrics", "-D", "-")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition("\n\n")  # text mode turned CRLF into LF
    assert head.startswith("HTTP/1.1 200 OK")
    assert "Content-Type: text/plain; version=0.0.4" in head
    values = samples(body)
    assert values['znetd_connections_total{service="web"}'] == 3
    assert values['znetd_connections_active{service="web"}'] == 0
    assert values['znetd_bytes_total{service="web",direction="in"}'] == 60
    assert values['znetd_bytes_total{service="web",direction="out"}'] == 60
    assert values[f'znetd_backend_up{{service="web",backend="{echo.addr}"}}'] == 1
    assert values['znetd_backend_up{service="web",backend="127.0.0.1:1"}'] == 0
    assert values['znetd_wakeups_total{service="web"}'] == 0
    assert values['znetd_wakeup_duration_seconds_bucket{service="web",le="+Inf"}'] == 0
    assert values['znetd_hold_queue_length{service="web"}'] == 0
    for family in ("znetd_connections_total", "znetd_bytes_total", "znetd_wakeup_duration_seconds"):
        assert len(re.findall(rf"^# TYPE {family} ", body, re.M)) == 1
    # The status agrees.
    web = status_json(znetd_bin, control)["web"]
    assert web["connections_total"] == 3 and web["bytes_in"] == 60

    assert "404" in scrape(f"http://{metrics}/other", "-o", "/dev/null", "-w", "%{http_code}").stdout
    assert "405" in scrape(f"http://{metrics}/metrics", "-X", "POST", "-o", "/dev/null",
                           "-w", "%{http_code}").stdout


def test_metrics_command_gathers_every_znetd(start_znetd, sock_dir, backends, znetd_bin):
    """``znetd metrics`` asks each control socket (as the per-service layout's collector does);
    ``--inetd`` answers an HTTP request on stdin/stdout."""
    echo = backends.echo()
    sockets = []
    for name in ("one", "two"):
        listen = f"127.0.0.1:{free_port()}"
        control = sock_dir / f"{name}.sock"
        start_znetd(config=f"""
            services:
              {name}:
                listen: "{listen}"
                target: "{echo.addr}"
            """, args=["--control-socket", control], ready=[listen])
        wait_until(control.exists, 5, message="control socket")
        assert echo_round_trip(listen, name.encode()) == name.encode()
        sockets += ["--control-socket", str(control)]
    result = subprocess.run([str(znetd_bin), "metrics", *sockets], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    values = samples(result.stdout)
    assert values['znetd_connections_total{service="one"}'] == 1
    assert values['znetd_bytes_total{service="two",direction="out"}'] == 3
    assert result.stdout.count("# TYPE znetd_connections_total counter") == 1

    answer = subprocess.run([str(znetd_bin), "metrics", "--inetd", *sockets], capture_output=True, timeout=10,
                            input=b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"version=0.0.4" in head
    assert b'znetd_connections_total{service="one"} 1' in body
    assert f"Content-Length: {len(body)}".encode() in head
    answer = subprocess.run([str(znetd_bin), "metrics", "--inetd", *sockets], capture_output=True, timeout=10,
                            input=b"GET /nope HTTP/1.1\r\n\r\n")
    assert answer.stdout.startswith(b"HTTP/1.1 404 Not Found")
