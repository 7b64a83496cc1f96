"""TLS termination on a shared HTTP listener: certificates chosen by SNI (curl --resolve,
--cacert), X-Forwarded-Proto: https for the backend, certificates reloaded by SIGHUP, and a bad
new certificate that keeps the old one."""

import shutil
import signal
import subprocess

import pytest

from conftest import free_port
from httpbackends import HTTPBackend
from tlscerts import CertificateAuthority, served_certificate

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("curl") is None,
                                reason="openssl and curl are needed")


@pytest.fixture
def app():
    backend = HTTPBackend("app")
    yield backend
    backend.stop()


def https(port, name, ca, path="/"):
    return subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(ca.cert), "--resolve",
                           f"{name}:{port}:127.0.0.1", f"https://{name}:{port}{path}"],
                          capture_output=True, text=True, timeout=15)


def tls_config(port, app, certificates):
    listed = "\n".join(f"        - {{certificate: {c}, key: {k}}}" for c, k in certificates)
    return f"""
listeners:
  web:
    listen: "127.0.0.1:{port}"
    tls:
      certificates:
{listed}
services:
  app: {{routes: [{{listener: web}}], target: "{app.addr}"}}
"""


def test_two_certificates_chosen_by_server_name(start_znetd, app, tmp_path):
    ca = CertificateAuthority(tmp_path / "pki")
    a = ca.issue("a.test", serial=1)
    b = ca.issue("b.test", "*.b.test", serial=2)
    port = free_port()
    start_znetd(config=tls_config(port, app, [a, b]), ready=[f"127.0.0.1:{port}"])

    for name in ["a.test", "b.test", "www.b.test"]:
        result = https(port, name, ca, "/x")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "app /x 0\n"
    assert served_certificate(port, "a.test") == ("CN = a.test", "01")
    assert served_certificate(port, "www.b.test") == ("CN = b.test", "02")
    # No match: the first certificate is the default.
    assert served_certificate(port, "other.test") == ("CN = a.test", "01")
    headers = app.seen()[0]["headers"]
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-host"] == "a.test"


def test_unloadable_certificate_stops_the_start_with_its_reason(start_znetd, app, tmp_path):
    """A key that is missing, or that belongs to another certificate: znetd does not start
    (exit 1), and its log names the listener, the file and what is wrong."""
    ca = CertificateAuthority(tmp_path / "pki")
    cert, _ = ca.issue("a.test", serial=7, stem="site")
    _, other_key = ca.issue("b.test", serial=8, stem="other")
    missing = tmp_path / "missing.key"
    for certificates, reason in (
        ([(cert, missing)], f"listener 'web': cannot load private key {missing}"),
        ([(cert, other_key)], f"listener 'web': cannot load private key {other_key}: "
                              "error:05800074:x509 certificate routines::key values mismatch"),
    ):
        daemon = start_znetd(config=tls_config(free_port(), app, certificates))
        assert daemon.wait_exit(10) == 1
        assert reason in daemon.stderr_text()


def test_sighup_reloads_certificates_and_keeps_them_when_broken(start_znetd, app, tmp_path):
    ca = CertificateAuthority(tmp_path / "pki")
    cert, key = ca.issue("a.test", serial=5, stem="site")
    port = free_port()
    daemon = start_znetd(config=tls_config(port, app, [(cert, key)]), ready=[f"127.0.0.1:{port}"])
    assert served_certificate(port, "a.test") == ("CN = a.test", "05")

    # The same paths, a new certificate: a reload serves it.
    ca.issue("a.test", serial=6, stem="site")
    mark = daemon.stderr_mark()
    daemon.signal(signal.SIGHUP)
    daemon.wait_stderr("configuration reloaded", since=mark)
    assert served_certificate(port, "a.test") == ("CN = a.test", "06")
    assert https(port, "a.test", ca).returncode == 0

    # A broken certificate: the old one stays, and the log says why.
    cert.write_text("not a certificate\n")
    mark = daemon.stderr_mark()
    daemon.signal(signal.SIGHUP)
    daemon.wait_stderr(r"keeping the certificates? (it|they) had", since=mark)
    assert served_certificate(port, "a.test") == ("CN = a.test", "06")
