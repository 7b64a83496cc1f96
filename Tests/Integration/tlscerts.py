"""Test certificates made with the openssl command: a CA and leaf certificates it signs, each
with a subjectAltName, for curl --cacert and openssl s_server/s_client."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class CertificateAuthority:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert = self.directory / "ca.pem"
        self.key = self.directory / "ca.key"
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(self.key), "-out", str(self.cert), "-days", "2", "-subj", "/CN=znetd test CA",
             cwd=self.directory)

    def issue(self, name, *alt_names, serial, stem=None):
        """A leaf certificate for ``name`` (and ``alt_names``) with a given serial; returns
        (certificate path, key path)."""
        stem = stem or f"{name.replace('*', 'wildcard')}-{serial}"
        key = self.directory / f"{stem}.key"
        csr = self.directory / f"{stem}.csr"
        cert = self.directory / f"{stem}.pem"
        ext = self.directory / f"{stem}.ext"
        ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in (name, *alt_names)) + "\n")
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}", cwd=self.directory)
        _run("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
             "-set_serial", str(serial), "-days", "2", "-extfile", str(ext), "-out", str(cert),
             cwd=self.directory)
        key.chmod(0o600)
        return cert, key


def served_certificate(port, server_name, timeout=10):
    """(subject, serial) of the certificate a TLS server on 127.0.0.1:port presents for SNI
    ``server_name``, read with openssl s_client."""
    hello = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", server_name],
        input=b"", capture_output=True, timeout=timeout)
    pem = hello.stdout.decode(errors="replace")
    start, end = pem.find("-----BEGIN CERTIFICATE-----"), pem.find("-----END CERTIFICATE-----")
    assert start >= 0, f"no certificate from s_client:\n{pem}\n{hello.stderr.decode(errors='replace')}"
    text = subprocess.run(["openssl", "x509", "-noout", "-subject", "-serial"],
                          input=pem[start:end + 25].encode(), capture_output=True, check=True).stdout.decode()
    fields = dict(line.split("=", 1) for line in text.splitlines())
    return fields["subject"].strip(), fields["serial"].strip()
