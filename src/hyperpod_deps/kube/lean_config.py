"""Where the node agent's lean client connects and how it proves who it is: the pod's
ServiceAccount, or a kubeconfig (the local cluster, tests), found in the same order as the
official client's (client.Kube.connect).

Only what the agent's kubeconfigs and its pod use is read: a server over HTTPS, its CA (file or
data, else the system's), and a bearer token (inline or a file) or a client certificate (file or
data). Anything else (exec plugins, auth providers, skipping TLS verification) is refused with
its name, never half-applied: the agent always verifies the server.
"""
from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from hyperpod_deps.kube.errors import ClusterUnreachable

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
UNSUPPORTED_USER_KEYS = ("exec", "auth-provider", "username", "password")


class TokenFile:
    """A bearer token read from a file, read again whenever the file changes: the kubelet
    rotates a projected ServiceAccount token by swapping the file (a symlink) under the pod,
    and the old token stops working an hour or so later."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._token = ""
        self.token()  # a missing or empty file fails now, at connect time

    def token(self) -> str:
        stat = os.stat(self.path)  # one stat per request: cheap next to the request itself
        if (stat.st_ino, stat.st_mtime_ns) != self._seen:
            token = self.path.read_text().strip()
            if not token:
                raise OSError(f"{self.path} is empty")
            self._token, self._seen = token, (stat.st_ino, stat.st_mtime_ns)
        return self._token


@dataclass
class Credentials:
    host: str
    port: int
    tls: ssl.SSLContext
    token_file: TokenFile | None = None
    token: str = ""
    path_prefix: str = ""  # a server URL may carry a path under which the API is served
    source: str = field(default="")  # where these came from, for error messages

    def authorization(self) -> str | None:
        token = self.token_file.token() if self.token_file is not None else self.token
        return f"Bearer {token}" if token else None


def discover(kubeconfig: Path | None, environ: dict[str, str] | None = None) -> Credentials:
    """The given kubeconfig, else $KUBECONFIG or ~/.kube/config, else the pod's ServiceAccount.
    ClusterUnreachable when none of them is usable."""
    environ = dict(os.environ) if environ is None else environ
    path = kubeconfig or _default_kubeconfig(environ)
    try:
        if path is None and "KUBERNETES_SERVICE_HOST" in environ:
            return in_cluster(environ)
        return from_kubeconfig(path or Path("~/.kube/config").expanduser())
    except (OSError, ValueError, KeyError, TypeError, ssl.SSLError, yaml.YAMLError) as error:
        source = str(path) if path else "the pod's service account"
        raise ClusterUnreachable(f"no usable kubeconfig ({source}): {error}") from error


def in_cluster(environ: dict[str, str], directory: Path = SERVICE_ACCOUNT) -> Credentials:
    host, port = environ["KUBERNETES_SERVICE_HOST"], int(environ.get("KUBERNETES_SERVICE_PORT", "443"))
    tls = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    return Credentials(host, port, tls, token_file=TokenFile(directory / "token"),
                       source="the pod's service account")


def from_kubeconfig(path: Path) -> Credentials:
    config = yaml.safe_load(path.read_text()) or {}
    context = _named(config, "contexts", config.get("current-context"))["context"]
    cluster = _named(config, "clusters", context["cluster"])["cluster"]
    user = _named(config, "users", context.get("user"))["user"] if context.get("user") else {}
    refused = [key for key in UNSUPPORTED_USER_KEYS if user.get(key)]
    if refused:
        raise ValueError(f"the health agent's client does not support user {', '.join(refused)}: "
                         "use a token, a token file or a client certificate")
    if cluster.get("insecure-skip-tls-verify"):
        raise ValueError("insecure-skip-tls-verify is set: the health agent always verifies the "
                         "API server; give certificate-authority or certificate-authority-data")
    server = urlsplit(str(cluster["server"]))
    if server.scheme != "https" or not server.hostname:
        raise ValueError(f"server {cluster['server']!r}: the health agent speaks only HTTPS")
    tls = _tls(path.parent, cluster, user)
    token_file = TokenFile(_relative(path.parent, user["tokenFile"])) if user.get("tokenFile") else None
    return Credentials(server.hostname, server.port or 443, tls, token_file=token_file,
                       token=str(user.get("token") or ""), path_prefix=server.path.rstrip("/"),
                       source=str(path))


def _tls(base: Path, cluster: dict[str, Any], user: dict[str, Any]) -> ssl.SSLContext:
    if cluster.get("certificate-authority-data"):
        tls = ssl.create_default_context(cadata=_decoded(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        tls = ssl.create_default_context(cafile=str(_relative(base, cluster["certificate-authority"])))
    else:
        tls = ssl.create_default_context()
    if user.get("client-certificate-data"):
        with _in_memory(_decoded(user["client-certificate-data"])) as cert, \
                _in_memory(_decoded(user["client-key-data"])) as key:
            tls.load_cert_chain(cert, key)
    elif user.get("client-certificate"):
        tls.load_cert_chain(str(_relative(base, user["client-certificate"])),
                            str(_relative(base, user["client-key"])))
    return tls


@contextmanager
def _in_memory(data: bytes) -> Iterator[str]:
    """A path to `data` that never touches a disk (ssl loads a certificate only from a path);
    the agent's root filesystem is read-only anyway."""
    descriptor = os.memfd_create("kubeconfig-credential", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, data)
        yield f"/proc/self/fd/{descriptor}"
    finally:
        os.close(descriptor)


def _named(config: dict[str, Any], section: str, name: object) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            found: dict[str, Any] = entry
            return found
    raise ValueError(f"no {section[:-1]} named {name!r}")


def _decoded(data: str) -> bytes:
    return base64.b64decode(data)


def _relative(base: Path, name: str) -> Path:
    """Relative paths in a kubeconfig are relative to its own folder."""
    return base / Path(name).expanduser()


def _default_kubeconfig(environ: dict[str, str]) -> Path | None:
    """$KUBECONFIG (its first file where it lists several), else ~/.kube/config if it exists."""
    listed = [part for part in environ.get("KUBECONFIG", "").split(os.pathsep) if part]
    if listed:
        return Path(listed[0]).expanduser()
    home = Path("~/.kube/config").expanduser()
    return home if home.is_file() else None
