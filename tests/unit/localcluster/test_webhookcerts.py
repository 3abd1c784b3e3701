"""The training operator's webhook certificates meet its cert rotator's conditions (checked with
openssl the way Go's x509 verifies them), and also name the loopback address."""
from __future__ import annotations

import subprocess
from pathlib import Path

from hyperpod_deps.localcluster.webhookcerts import CA_NAME, ensure_webhook_certs

DNS = "training-operator.kubeflow.svc"


def _openssl(*args: str | Path) -> str:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=True).stdout


def test_certificates_are_what_the_rotator_accepts(tmp_path: Path) -> None:
    certs = ensure_webhook_certs(tmp_path / "certs", DNS)

    # The rotator parses the CA key as PKCS#1 only.
    assert certs.ca_key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert f"DNS:{CA_NAME}" in _openssl("x509", "-in", certs.ca_crt, "-noout", "-ext", "subjectAltName")
    served = _openssl("x509", "-in", certs.tls_crt, "-noout", "-ext", "subjectAltName,extendedKeyUsage")
    assert f"DNS:{DNS}" in served and "IP Address:127.0.0.1" in served
    assert "TLS Web Server Authentication" in served
    for name in (DNS, "127.0.0.1"):
        flag = "-verify_ip" if name[0].isdigit() else "-verify_hostname"
        assert "OK" in _openssl("verify", "-CAfile", certs.ca_crt, "-purpose", "sslserver", flag, name,
                                certs.tls_crt)
    # 90 days of look-ahead in the rotator: still valid in 120 days.
    subprocess.run(["openssl", "x509", "-in", str(certs.tls_crt), "-noout", "-checkend",
                    str(120 * 24 * 3600)], check=True, capture_output=True)
    assert set(certs.secret_data()) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    assert (tmp_path / "certs").stat().st_mode & 0o077 == 0


def test_made_once_then_kept(tmp_path: Path) -> None:
    first = ensure_webhook_certs(tmp_path, DNS).secret_data()
    assert ensure_webhook_certs(tmp_path, DNS).secret_data() == first
