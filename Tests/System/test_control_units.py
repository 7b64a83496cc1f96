"""System tests: the control socket and the metrics endpoint of generated units under a real
systemd: where the socket is (the unit's RuntimeDirectory=), who owns it and its mode, what
``znetd status`` says about a unit that served requests, a persistent registration kept in
the unit's StateDirectory= across a restart, and metrics_listen in both layouts.
"""

import json
import re

import pytest

from znetd_sandbox import GeneratedDeployment, render_config, wait_until

CONTROL = "/run/znetd/control/znetd-web/control.sock"


@pytest.fixture(scope="module")
def znetd(znetd_bin, sandbox):
    deployment = GeneratedDeployment(sandbox, znetd_bin, znetd_bin.parent / "znetd-generator")
    deployment.install()
    return deployment


def apply(sb):
    sb.systemctl("daemon-reload")
    sb.systemctl("start", "sockets.target")


def stop_all(sb):
    out = sb.exec("systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager", "znetd*").stdout
    units = [line.split()[0] for line in out.splitlines() if line.strip()]
    if units:
        sb.systemctl("stop", *units, check=False)
    sb.systemctl("reset-failed", check=False)


def status(sb, *args):
    run = sb.exec("/usr/bin/znetd", "status", "--json", *args)
    assert run.returncode == 0, run.stderr
    return {s["name"]: s for d in json.loads(run.stdout)["znetd"] for s in d["services"]}


def security_score(sb, unit):
    out = sb.exec("systemd-analyze", "security", "--no-pager", unit).stdout
    m = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+(?:\.\d+)?)", out)
    assert m, f"no score for {unit}:\n{out}"
    return float(m.group(1))


def test_status_over_the_units_control_socket(znetd, report):
    sb = znetd.sandbox
    stop_all(sb)
    sb.write(znetd.CONFIG, render_config())
    apply(sb)
    for _ in range(3):
        assert znetd.http_get().body == b"backend 9090\n"
    wait_until(lambda: sb.is_active(znetd.SERVICE) == "active", 5, message="znetd-web active")
    # The socket is in the unit's runtime directory, owned by its dynamic user, mode 0600.
    owner, mode = sb.exec("stat", "-c", "%u %a", CONTROL).stdout.split()
    service_uid = sb.exec("sh", "-c", f"stat -c %u /proc/{znetd.main_pid()}").stdout.strip()
    assert (owner, mode) == (service_uid, "600")
    assert owner != "0"
    # znetd status finds it without being told where.
    web = status(sb)["web"]
    assert web["state"] == "ready" and web["connections_total"] == 3
    assert web["bytes_out"] > 0
    table = sb.exec("/usr/bin/znetd", "status").stdout
    assert re.search(r"^web\s+ready\s+none\s+0\s+3\s", table, re.M), table
    score = security_score(sb, znetd.SERVICE)
    report(f"plain forwarder with control socket and state directory: systemd-analyze security {score}")
    assert score <= 2.0

    # A persistent registration lives in the unit's state directory and survives a restart.
    run = sb.exec("/usr/bin/znetd", "register", "--service", "web", "--target", "127.0.0.1:9091", "--persistent")
    assert run.returncode == 0, run.stderr
    saved = json.loads(sb.path("/var/lib/znetd/znetd-web/registrations.json").read_text())
    assert [r["target"] for r in saved["registrations"]] == ["127.0.0.1:9091"]
    sb.systemctl("restart", znetd.SERVICE)
    znetd.wait_active()
    web = status(sb, "web")["web"]
    assert [r["target"] for r in web["registrations"]] == ["127.0.0.1:9091"]
    assert sorted(b["address"] for b in web["backends"]) == ["127.0.0.1:9090", "127.0.0.1:9091"]
    bodies = {znetd.http_get().body for _ in range(4)}
    assert bodies == {b"backend 9090\n", b"backend 9091\n"}
    run = sb.exec("/usr/bin/znetd", "unregister", "--service", "web", "--target", "127.0.0.1:9091", "--now")
    assert run.returncode == 0, run.stderr
    stop_all(sb)


def test_control_group_may_read_the_status(znetd, report):
    sb = znetd.sandbox
    stop_all(sb)
    sb.write(znetd.CONFIG, "control: {group: adm}\n" + render_config())
    apply(sb)
    assert znetd.http_get().status == 200
    wait_until(lambda: sb.is_active(znetd.SERVICE) == "active", 5, message="znetd-web active")
    assert "SupplementaryGroups=adm" in sb.path(f"{GeneratedDeployment.GENERATOR_DIR}/{znetd.SERVICE}").read_text()
    group, mode = sb.exec("stat", "-c", "%G %a", CONTROL).stdout.split()
    assert (group, mode) == ("adm", "660")
    member = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=adm", "/usr/bin/znetd"]
    run = sb.exec(*member, "status", "web")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1].split()[:2] == ["web", "ready"]
    run = sb.exec(*member, "register", "--service", "web", "--target", "127.0.0.1:9091")
    assert run.returncode == 1 and "may not change registrations" in run.stderr, run.stderr
    score = security_score(sb, znetd.SERVICE)
    report(f"plain forwarder with control: group (no PrivateUsers=, @chown): systemd-analyze security {score}")
    assert score <= 2.0
    outsider = sb.exec("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/znetd", "status")
    assert outsider.returncode == 1 and "permission denied" in outsider.stderr, outsider.stderr
    stop_all(sb)
    sb.write(znetd.CONFIG, render_config())
    apply(sb)


def test_metrics_in_both_layouts(znetd, report):
    sb = znetd.sandbox
    stop_all(sb)
    services = {"web": {"listen": ":8080", "target": "127.0.0.1:9090"},
                "api": {"listen": ":8081", "target": "127.0.0.1:9091"}}
    # Per-service layout: one process per service, a scrape asks each of them.
    sb.write(znetd.CONFIG, "metrics_listen: 127.0.0.1:9101\n" + render_config(services))
    apply(sb)
    assert znetd.http_get(port=8080).status == 200
    assert znetd.http_get(port=8081).status == 200
    wait_until(lambda: sb.is_active("znetd-api.service") == "active", 5, message="znetd-api active")
    reply = znetd.http_get("/metrics", port=9101)
    assert reply.status == 200, reply
    text = reply.body.decode()
    assert 'znetd_connections_total{service="web"} 1' in text, text
    assert 'znetd_connections_total{service="api"} 1' in text, text
    score = security_score(sb, "znetd-metrics@0.service")
    report(f"metrics collector (per-service layout): systemd-analyze security znetd-metrics@.service {score}")
    stop_all(sb)

    # Shared layout: the one process serves the metrics socket itself.
    sb.write(znetd.CONFIG, "unit_layout: shared\nmetrics_listen: 127.0.0.1:9101\n" + render_config(services))
    apply(sb)
    assert znetd.http_get(port=8081).status == 200
    reply = znetd.http_get("/metrics", port=9101)
    assert reply.status == 200, reply
    assert 'znetd_connections_total{service="api"} 1' in reply.body.decode()
    assert "znetd-metrics.socket" in sb.show("znetd.service", "TriggeredBy")["TriggeredBy"].split()
    stop_all(sb)
    sb.write(znetd.CONFIG, render_config())
    apply(sb)
