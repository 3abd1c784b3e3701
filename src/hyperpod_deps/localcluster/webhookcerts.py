"""The training operator's webhook certificates for a local cluster, made in advance.

The operator (v1.8.1) runs open-policy-agent's cert-controller: it keeps a CA and a serving
certificate in a Secret and accepts what it finds there when
- the CA certificate verifies as a server certificate for the DNS name `training-operator-ca`
  (so it carries that name) and its key is an RSA key in PKCS#1 form (the only form it parses),
- the serving certificate verifies for `<service>.<namespace>.svc` against that CA,
- both stay valid for 90 more days.
Ours meet that and also name 127.0.0.1, so the local API server can call the webhook by a
loopback URL. Made once per state folder with the `openssl` command, like the cluster's PKI.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.localcluster.pki import openssl

CA_NAME = "training-operator-ca"  # compiled into the operator (pkg/cert: caName)
CA_ORGANIZATION = "training-operator"
VALID_DAYS = 825  # well past the rotator's 90-day look-ahead


@dataclass(frozen=True)
class WebhookCerts:
    directory: Path

    @property
    def ca_crt(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def tls_crt(self) -> Path:
        return self.directory / "tls.crt"

    @property
    def tls_key(self) -> Path:
        return self.directory / "tls.key"

    def secret_data(self) -> dict[str, bytes]:
        """The keys cert-controller reads and writes in the Secret."""
        return {path.name: path.read_bytes()
                for path in (self.ca_crt, self.ca_key, self.tls_crt, self.tls_key)}


def ensure_webhook_certs(directory: Path, service_dns_name: str) -> WebhookCerts:
    """The CA and a serving certificate for `service_dns_name` and 127.0.0.1 (kept once made)."""
    certs = WebhookCerts(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if not certs.ca_crt.exists():
        _rsa_key(certs.ca_key)
        openssl("req", "-x509", "-new", "-key", certs.ca_key, "-days", str(VALID_DAYS + 365),
                "-subj", f"/O={CA_ORGANIZATION}/CN={CA_NAME}", "-out", certs.ca_crt,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment",
                "-addext", f"subjectAltName=DNS:{CA_NAME}")
    if not certs.tls_crt.exists():
        _serving_certificate(certs, service_dns_name)
    return certs


def _serving_certificate(certs: WebhookCerts, dns_name: str) -> None:
    _rsa_key(certs.tls_key)
    csr, ext = certs.directory / "tls.csr", certs.directory / "tls.ext"
    openssl("req", "-new", "-key", certs.tls_key, "-subj", f"/CN={dns_name}", "-out", csr)
    ext.write_text("basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n"
                   f"subjectAltName=DNS:{dns_name},IP:127.0.0.1\n")
    partial = certs.directory / ".tls.crt.partial"
    openssl("x509", "-req", "-in", csr, "-CA", certs.ca_crt, "-CAkey", certs.ca_key,
            "-set_serial", f"0x{secrets.token_hex(8)}", "-days", str(VALID_DAYS),
            "-extfile", ext, "-out", partial)
    partial.replace(certs.tls_crt)
    csr.unlink()
    ext.unlink()


def _rsa_key(path: Path) -> None:
    # -traditional: "BEGIN RSA PRIVATE KEY" (PKCS#1); cert-controller refuses PKCS#8.
    pkcs8 = path.with_name(f".{path.name}.pkcs8")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pkcs8)
    openssl("pkey", "-in", pkcs8, "-traditional", "-out", path)
    pkcs8.unlink()
    path.chmod(0o600)
