"""Putting the agents image built here (`make image`) into a registry, with skopeo.

skopeo copies the OCI archive blob for blob, so the registry serves the very manifest that was
built: the digest printed by `make image` is the one a cluster pulls. skopeo also reads the
credentials of `skopeo login`, `docker login` and the `aws ecr get-login-password` pipe, so
ECR, GHCR and a site's own registry all work the same way.
"""
from __future__ import annotations

import ipaddress
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps import __version__
from hyperpod_deps.toolchain.agents_image import REPOSITORY

INSTALL_HINT = "apt-get install skopeo (Debian, Ubuntu; other systems: the skopeo package)"
COPY_TIMEOUT_SECONDS = 900
CREDENTIALS_HINT = ("(credentials: `skopeo login REGISTRY`; for ECR: `aws ecr get-login-password "
                    "| skopeo login --username AWS --password-stdin REGISTRY`)")


class PushError(RuntimeError):
    """The push could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class Pushed:
    reference: str  # registry/hyperpod-deps/agents:tag
    registry: str
    digest: str

    def values(self) -> dict[str, object]:
        """The chart values that make every component of ours pull exactly this image."""
        image = {"registry": self.registry, "digest": self.digest}
        return {
            "health-monitoring-agent": {"openAgent": {"image": image}},
            "job-auto-restart": {"controller": {"image": image}},
        }


def check_registry(registry: str) -> str:
    """A registry host[:port][/path] with no scheme, tag or trailing slash."""
    cleaned = registry.strip().rstrip("/")
    if not cleaned or "://" in cleaned or any(c.isspace() for c in cleaned) or "@" in cleaned:
        raise PushError(f"registry {registry!r}: give host[:port][/path], e.g. "
                        "123456789012.dkr.ecr.us-west-2.amazonaws.com or 127.0.0.1:5000, no scheme")
    return cleaned


def is_loopback(registry: str) -> bool:
    host = registry.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def push(archive: Path, registry: str, tls_verify: bool | None = None, tag: str = __version__,
         repository: str = REPOSITORY) -> Pushed:
    """Copy the OCI archive to `registry`/`repository`:`tag` (the agents image by default).
    `tls_verify` None: verify unless the registry is on loopback (a local registry speaks plain HTTP)."""
    registry = check_registry(registry)
    if not archive.is_file():
        raise PushError(f"no image archive at {archive}: build it first with `make image`")
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise PushError(f"pushing needs skopeo: {INSTALL_HINT}")
    verify = not is_loopback(registry) if tls_verify is None else tls_verify
    reference = f"{registry}/{repository}:{tag}"
    with tempfile.TemporaryDirectory(prefix="hyperpod-deps-push-") as work:
        digest_file = Path(work) / "digest"
        try:
            done = subprocess.run(
                [skopeo, "copy", "--quiet", f"--dest-tls-verify={str(verify).lower()}",
                 "--digestfile", str(digest_file), f"oci-archive:{archive}", f"docker://{reference}"],
                capture_output=True, text=True, check=False, timeout=COPY_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as error:
            raise PushError(f"skopeo copy to {reference} took over {COPY_TIMEOUT_SECONDS}s") from error
        if done.returncode != 0:
            raise PushError(f"skopeo copy to {reference} failed ({done.returncode}):\n"
                            f"{done.stderr.strip()[-2000:]}\n{CREDENTIALS_HINT}")
        digest = digest_file.read_text().strip()
    return Pushed(reference, registry, digest)
