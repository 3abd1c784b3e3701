"""The real local control plane, built from its Go modules on first use (cached afterwards)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperpod_deps.localcluster import cluster
from hyperpod_deps.localcluster.nodespec import default_spec
from hyperpod_deps.toolchain.helm import kubectl_path
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries, ensure_control_plane


@pytest.fixture(scope="session")
def control_plane_binaries() -> ControlPlaneBinaries:
    """Built, not skipped: CI must exercise the real control plane."""
    return ensure_control_plane()


@pytest.fixture(scope="session")
def local_cluster(control_plane_binaries: ControlPlaneBinaries,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.ClusterStatus]:
    name = f"e2e-{os.getpid()}"
    kubeconfig = tmp_path_factory.mktemp("kube") / "kubeconfig"
    status = cluster.up(name, default_spec(), kubeconfig, binaries=control_plane_binaries)
    try:
        yield status
    finally:
        cluster.down(name, purge=True)


@pytest.fixture(scope="session")
def kubectl(local_cluster: cluster.ClusterStatus) -> list[str]:
    assert local_cluster.kubeconfig is not None
    return [str(kubectl_path()), "--kubeconfig", str(Path(local_cluster.kubeconfig))]
