"""The local cluster's certificates: one CA, the API server's serving certificate, a client
certificate per component, and the service-account signing key. Made with the `openssl` command
(present wherever Python's ssl module is), once per cluster, and kept in its state folder."""
from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: CN is the user, O the groups."""

    file: str
    user: str
    group: str = ""


CLIENTS = (
    ClientIdentity("admin", "kubernetes-admin", "system:masters"),
    ClientIdentity("kube-controller-manager", "system:kube-controller-manager"),
    ClientIdentity("kube-scheduler", "system:kube-scheduler"),
    # kwok plays every node's kubelet (node status, leases, pod status) for fake nodes.
    ClientIdentity("kwok", "system:kwok-controller", "system:masters"),
    # The API server calling a real node's kubelet (logs, exec), which asks the API server back.
    ClientIdentity("kube-apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
)

SERVING_NAMES = (
    "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local", "IP:127.0.0.1",
)


class PkiError(RuntimeError):
    """openssl is missing or refused to make a key or certificate."""


def ensure_pki(directory: Path, service_ip: str) -> None:
    """Create what is missing; a cluster brought up again keeps its CA, so kubeconfigs stay valid.

    `service_ip` is the `kubernetes` Service's address, which the serving certificate names: it
    depends on the address slot the cluster got, so the certificate is made again when it moves."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if not (directory / "ca.crt").exists():
        _key(directory / "ca.key")
        openssl("req", "-x509", "-new", "-key", directory / "ca.key", "-days", "3650",
                 "-subj", "/CN=hyperpod-deps-local-ca", "-out", directory / "ca.crt",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
    if not (directory / "service-account.pub").exists():
        _key(directory / "service-account.key")
        openssl("pkey", "-in", directory / "service-account.key", "-pubout",
                 "-out", directory / "service-account.pub")
    _signed(directory, "kube-apiserver", "/CN=kube-apiserver", "serverAuth",
            "subjectAltName=" + ",".join((*SERVING_NAMES, f"IP:{service_ip}")))
    for client in CLIENTS:
        subject = (f"/O={client.group}" if client.group else "") + f"/CN={client.user}"
        _signed(directory, client.file, subject, "clientAuth")


def issue_client_certificate(directory: Path, name: str, user: str, groups: tuple[str, ...] = ()) -> None:
    """A client certificate for a person: CN the user, one O per group, signed by the cluster's
    CA and kept as <name>.crt / <name>.key beside the components' own. Clients that ignore a
    kubeconfig's impersonation settings (the Python kubernetes client) authenticate as exactly
    this user and these groups."""
    if not (directory / "ca.key").exists():
        raise PkiError(f"no cluster CA in {directory}: bring the cluster up first")
    subject = "".join(f"/O={group}" for group in groups) + f"/CN={user}"
    _signed(directory, name, subject, "clientAuth", f"# subject {subject}")


def _signed(directory: Path, name: str, subject: str, usage: str, extra: str = "") -> None:
    crt, made_with = directory / f"{name}.crt", directory / f"{name}.ext.made"
    lines = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
             f"extendedKeyUsage={usage}", extra]
    extensions = "\n".join(line for line in lines if line) + "\n"
    if crt.exists() and made_with.exists() and made_with.read_text() == extensions:
        return
    key, csr, ext = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.ext"
    _key(key)
    openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr)
    ext.write_text(extensions)
    partial = directory / f".{name}.crt.partial"
    openssl("x509", "-req", "-in", csr, "-CA", directory / "ca.crt", "-CAkey", directory / "ca.key",
             "-set_serial", f"0x{secrets.token_hex(8)}",
             "-days", "825", "-extfile", ext, "-out", partial)
    partial.replace(crt)
    ext.replace(made_with)
    csr.unlink()


def _key(path: Path) -> None:
    if not path.exists():
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        path.chmod(0o600)


def openssl(*args: str | Path) -> None:
    openssl = shutil.which("openssl")
    if not openssl:
        raise PkiError("the `openssl` command is not on PATH (Debian: apt-get install openssl)")
    result = subprocess.run([openssl, *map(str, args)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PkiError(f"openssl {args[0]} failed: {result.stderr.strip()}")
