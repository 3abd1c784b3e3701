"""Kubeconfig files for the local cluster: self-contained (certificates embedded), so the one
handed to the user still works after it is copied elsewhere."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml


def render(cluster: str, server: str, ca: bytes, cert: bytes, key: bytes, user: str) -> str:
    context = cluster
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server,
                                                   "certificate-authority-data": _b64(ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": _b64(cert),
                                          "client-key-data": _b64(key)}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(path: Path, cluster: str, server: str, pki: Path, identity: str, user: str) -> Path:
    text = render(cluster, server, (pki / "ca.crt").read_bytes(), (pki / f"{identity}.crt").read_bytes(),
                  (pki / f"{identity}.key").read_bytes(), user)
    return _write_private(path, text)  # it holds a cluster-admin key


def for_person(admin_kubeconfig: Path, pki: Path, identity: str, user: str, target: Path) -> Path:
    """A kubeconfig for the cluster of `admin_kubeconfig` that authenticates with the client
    certificate <identity>.crt in `pki` (pki.issue_client_certificate makes it)."""
    config = yaml.safe_load(admin_kubeconfig.read_text())
    cluster = config["clusters"][0]
    ca, cert, key = ((pki / name).read_bytes() for name in ("ca.crt", f"{identity}.crt", f"{identity}.key"))
    return _write_private(target, render(cluster["name"], cluster["cluster"]["server"], ca, cert, key, user))


def with_token(kubeconfig: Path, user: str, token: str, target: Path) -> Path:
    """The same cluster as `kubeconfig`, authenticated by a bearer token instead (for example a
    ServiceAccount's, so a local process acts with exactly that account's rights)."""
    config = yaml.safe_load(kubeconfig.read_text())
    config["users"] = [{"name": user, "user": {"token": token}}]
    for context in config.get("contexts") or []:
        context["context"]["user"] = user
    return _write_private(target, yaml.safe_dump(config, sort_keys=False))


def _write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text)
    partial.chmod(0o600)
    partial.replace(path)
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
