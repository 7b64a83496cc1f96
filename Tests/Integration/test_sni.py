"""Shared tcp listeners: connections routed by the server name of their TLS ClientHello to
TLS backends (openssl s_server), which terminate TLS themselves."""

import shutil
import subprocess
import time

import pytest

from conftest import free_port, is_listening, wait_until
from tlscerts import CertificateAuthority, served_certificate

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("curl") is None,
                                reason="openssl and curl are needed")


@pytest.fixture
def tls_servers():
    started = []

    def start(cert, key):
        port = free_port()
        proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
                                 "-key", str(key), "-www", "-quiet"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(proc)
        deadline = time.monotonic() + 10
        while not is_listening(proc.pid, f"127.0.0.1:{port}"):
            assert time.monotonic() < deadline and proc.poll() is None, "openssl s_server did not start"
            time.sleep(0.05)
        return port

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_connections_are_routed_by_server_name(start_znetd, tls_servers, tmp_path):
    ca = CertificateAuthority(tmp_path / "pki")
    a_port = tls_servers(*ca.issue("a.test", serial=11))
    b_port = tls_servers(*ca.issue("b.test", "*.b.test", serial=12))
    port = free_port()
    start_znetd(config=f"""
        listeners:
          sni: {{listen: "127.0.0.1:{port}", mode: tcp}}
        services:
          a: {{routes: [{{listener: sni, host: a.test}}], target: "127.0.0.1:{a_port}"}}
          b: {{routes: [{{listener: sni, host: "*.b.test"}}, {{listener: sni, host: b.test}}], target: "127.0.0.1:{b_port}"}}
        """, ready=[f"127.0.0.1:{port}"])

    # The backend's own certificate comes through: TLS is not terminated by znetd.
    assert served_certificate(port, "a.test") == ("CN = a.test", "0B")
    assert served_certificate(port, "b.test") == ("CN = b.test", "0C")
    assert served_certificate(port, "www.b.test") == ("CN = b.test", "0C")
    # curl verifies the chain and the name end to end, through znetd.
    for name in ["a.test", "www.b.test"]:
        result = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(ca.cert), "--resolve",
                                 f"{name}:{port}:127.0.0.1", f"https://{name}:{port}/"],
                                capture_output=True, text=True, timeout=15)
        assert result.returncode == 0, result.stderr
        assert "s_server" in result.stdout


def test_unknown_server_name_or_plain_text_is_closed(start_znetd, tls_servers, tmp_path):
    ca = CertificateAuthority(tmp_path / "pki")
    a_port = tls_servers(*ca.issue("a.test", serial=11))
    port = free_port()
    daemon = start_znetd(config=f"""
        listeners:
          sni: {{listen: "127.0.0.1:{port}", mode: tcp}}
        services:
          a: {{routes: [{{listener: sni, host: a.test}}], target: "127.0.0.1:{a_port}"}}
        """, ready=[f"127.0.0.1:{port}"])
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", str(ca.cert), "--resolve",
                             f"c.test:{port}:127.0.0.1", f"https://c.test:{port}/"],
                            capture_output=True, text=True, timeout=15)
    assert result.returncode != 0
    daemon.wait_stderr(r"no route for server name c\.test")
    result = subprocess.run(["curl", "-sS", "--max-time", "10", f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True, timeout=15)
    assert result.returncode != 0
    daemon.wait_stderr(r"not a TLS ClientHello")
