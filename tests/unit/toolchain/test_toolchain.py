"""The pinned helm binaries are real and are the versions we say."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hyperpod_deps.toolchain import cache
from hyperpod_deps.toolchain.helm import HELM_RELEASES, helm_path, kubectl_path


@pytest.mark.parametrize("major", sorted(HELM_RELEASES))
def test_pinned_helm_reports_its_version(major: int) -> None:
    out = subprocess.run([str(helm_path(major)), "version", "--short"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith(f"v{HELM_RELEASES[major].helm_version}")


@pytest.mark.parametrize("major", sorted(HELM_RELEASES))
def test_pinned_kubectl_reports_its_version(major: int) -> None:
    out = subprocess.run([str(kubectl_path(major)), "version", "--client"], capture_output=True,
                         text=True, check=True).stdout
    assert f"v{HELM_RELEASES[major].kubectl_version}" in out


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERPOD_DEPS_CACHE", str(tmp_path))
    assert cache.bin_dir("helm", "3.18.0") == tmp_path / "bin" / "helm-3.18.0"
    monkeypatch.delenv("HYPERPOD_DEPS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "hyperpod-deps"
