"""System tests: a shared HTTP listener with TLS under a real systemd, through the units
znetd-generator writes: the listener's socket and one unit for it and its routed services,
started by the first connection, with the private key coming from a systemd credential
(LoadCredential=, /etc/credstore) that only root can read, while znetd runs as a dynamic user.

One sandbox for the module, with znetd installed as the package installs it (only the
generator) and two HTTP backends (127.0.0.1:9090 and :9091).
"""

import sys
from pathlib import Path

import pytest

from znetd_sandbox import GeneratedDeployment, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Integration"))
from tlscerts import CertificateAuthority  # noqa: E402

PORT = 8443
CONFIG = f"""\
listeners:
  secure:
    listen: ":{PORT}"
    tls:
      certificates:
        - {{certificate: /etc/znetd/tls/site.pem, key: "credential:site.key"}}
services:
  site:
    routes: [{{listener: secure, host: site.test}}]
    target: "127.0.0.1:9090"
  other:
    routes: [{{listener: secure, path: /other}}]
    target: "127.0.0.1:9091"
"""


@pytest.fixture(scope="module")
def znetd(znetd_bin, sandbox, tmp_path_factory):
    deployment = GeneratedDeployment(sandbox, znetd_bin, znetd_bin.parent / "znetd-generator")
    deployment.install()
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    cert, key = ca.issue("site.test", "other.test", serial=42)
    sb = sandbox
    sb.write("/etc/znetd/tls/site.pem", cert.read_bytes(), mode=0o644)
    sb.write("/etc/credstore/site.key", key.read_bytes(), mode=0o600)
    sb.path("/etc/credstore").chmod(0o700)
    sb.write("/etc/znetd/tls/ca.pem", ca.cert.read_bytes(), mode=0o644)
    sb.write("/srv/backend-9091/other/id.txt", "other backend\n")
    sb.write(deployment.CONFIG, CONFIG)
    sb.systemctl("daemon-reload")
    sb.systemctl("start", "sockets.target")
    return deployment


def https(sb, name, path):
    return sb.exec("curl", "-sS", "--max-time", "10", "--cacert", "/etc/znetd/tls/ca.pem",
                   "--resolve", f"{name}:{PORT}:127.0.0.1", f"https://{name}:{PORT}{path}", timeout=20)


def test_listener_units_and_credential(znetd):
    sb = znetd.sandbox
    assert sb.is_active("znetd-secure.socket") == "active"
    unit = sb.show("znetd-secure.service", "ExecStart", "DynamicUser", "FragmentPath")
    assert "--service other --service site --listener secure" in unit["ExecStart"]
    # (systemctl show prints LoadCredential= as "[unprintable]" in 252: read the unit itself.)
    assert "\nLoadCredential=site.key\n" in sb.path(unit["FragmentPath"]).read_text()
    assert unit["DynamicUser"] == "yes"
    verify = sb.exec("systemd-analyze", "verify", "--man=no", unit["FragmentPath"])
    assert verify.returncode == 0, verify.stderr

    # The first request starts the unit through its socket; the key came from /etc/credstore.
    result = https(sb, "site.test", "/id.txt")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "backend 9090\n"
    assert sb.is_active("znetd-secure.service") == "active"
    result = https(sb, "other.test", "/other/id.txt")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "other backend\n"

    # Outside the unit the key is root's alone, and znetd is not root.
    mode = sb.exec("stat", "-c", "%a %U", "/etc/credstore/site.key").stdout.split()
    assert mode == ["600", "root"]
    pid = int(sb.show("znetd-secure.service", "MainPID")["MainPID"])
    uid = sb.exec("ps", "-o", "uid=", "-p", str(pid)).stdout.strip()
    assert uid not in ("", "0")


def test_reload_through_systemctl_keeps_serving(znetd):
    sb = znetd.sandbox
    assert https(sb, "site.test", "/id.txt").returncode == 0
    sb.systemctl("reload", "znetd-secure.service")
    wait_until(lambda: sb.is_active("znetd-secure.service") == "active", 10, message="active after reload")
    result = https(sb, "site.test", "/id.txt")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "backend 9090\n"






def test_listener_unit_keeps_the_plain_forwarder_sandbox(znetd, report):
    """TLS and credentials cost the unit nothing in hardening: the same shape as a plain
    forwarder (dynamic user, no capabilities)."""
    import re
    out = znetd.sandbox.exec("systemd-analyze", "security", "--no-pager", "znetd-secure.service").stdout
    m = re.search(r"Overall exposure level for znetd-secure\.service: (\d+(?:\.\d+)?)", out)
    assert m, out
    score = float(m.group(1))
    report(f"systemd-analyze security znetd-secure.service: {score}")
    assert score <= 1.1
