"""The real local control plane, built from its Go modules on first use (cached afterwards), and
the real Helm 3 and Helm 4 bound to it.

One cluster per pytest process: tests that install the chart leave no release behind
(`clean_release`, `installed`), so each starts from a cluster with none.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hyperpod_deps.localcluster import cluster, operators
from hyperpod_deps.localcluster.nodespec import default_spec
from hyperpod_deps.toolchain import agents_image
from hyperpod_deps.toolchain.helm import HELM_RELEASES, helm_path, kubectl_path
from hyperpod_deps.toolchain.kubeflow import ensure_mpi_operator, ensure_training_operator
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries, ensure_control_plane
from tests.support import autorestart_support, kubeflow_support
from tests.support.charts import ROOT
from tests.support.egress_guard import EgressGuard
from tests.support.helm_support import RELEASE, HelmCli, helm_env, helm_release_namespaces
from tests.support.kube_support import Kube


@pytest.fixture(scope="session")
def control_plane_binaries() -> ControlPlaneBinaries:
    """Built, not skipped: CI must exercise the real control plane."""
    return ensure_control_plane()


@pytest.fixture(scope="session")
def built_agents_image() -> agents_image.BuiltImage:
    """The agents image, built as `make image` builds it (root; cached base, a minute when cold)."""
    return agents_image.build(ROOT)


@pytest.fixture(scope="session")
def egress_guard() -> Iterator[EgressGuard]:
    """Counts packets to any local cluster's ranges that leave by a non-loopback interface."""
    guard = EgressGuard.install()
    try:
        yield guard
    finally:
        guard.remove()


@pytest.fixture(autouse=True)
def no_packet_leaves(egress_guard: EgressGuard) -> Iterator[None]:
    """Every e2e test fails if, while it ran, a packet to a cluster's addresses left this machine."""
    before = egress_guard.packets_left()
    yield
    left = egress_guard.packets_left() - before
    assert left == 0, (f"{left} packet(s) to a local cluster's Service, pod or node addresses left this "
                       f"machine during the test (nft list table ip {egress_guard.table})")


@pytest.fixture(scope="session")
def local_cluster(control_plane_binaries: ControlPlaneBinaries, egress_guard: EgressGuard,
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


@pytest.fixture(scope="session")
def kube(kubectl: list[str]) -> Kube:
    return Kube(tuple(kubectl))


def _helm_cli(major: int, local_cluster: cluster.ClusterStatus, kube: Kube, home: Path) -> HelmCli:
    assert local_cluster.kubeconfig is not None
    return HelmCli(major, helm_path(major), helm_env(Path(local_cluster.kubeconfig), home), kube)


@pytest.fixture(scope="session")
def helm3_cli(local_cluster: cluster.ClusterStatus, kube: Kube,
              tmp_path_factory: pytest.TempPathFactory) -> HelmCli:
    """Helm 3 bound to the cluster (KUBECONFIG) with its own empty config, cache and data."""
    return _helm_cli(3, local_cluster, kube, tmp_path_factory.mktemp("helm3-home"))


@pytest.fixture(scope="session")
def helm4_cli(local_cluster: cluster.ClusterStatus, kube: Kube,
              tmp_path_factory: pytest.TempPathFactory) -> HelmCli:
    return _helm_cli(4, local_cluster, kube, tmp_path_factory.mktemp("helm4-home"))


@pytest.fixture(params=sorted(HELM_RELEASES), ids=[f"helm{m}" for m in sorted(HELM_RELEASES)])
def helm_cli(request: pytest.FixtureRequest, helm3_cli: HelmCli, helm4_cli: HelmCli) -> HelmCli:
    """Each test that takes it runs once with Helm 3 and once with Helm 4."""
    return {3: helm3_cli, 4: helm4_cli}[request.param]


def _remove_releases(kube: Kube, helm4_cli: HelmCli) -> None:
    """Uninstall every release named like ours, in any namespace and state (a failed install too).

    The standalone team-role chart, installed with no --namespace as documented, lands in the
    kubeconfig's default namespace. Helm 4 reads the releases Helm 3 stored, so it cleans both.
    """
    for namespace in helm_release_namespaces(kube, RELEASE):
        helm4_cli.uninstall(RELEASE, namespace)


@pytest.fixture
def clean_release(kube: Kube, helm4_cli: HelmCli) -> Iterator[None]:
    """No release before the test, and none after it, whatever happened in between."""
    _remove_releases(kube, helm4_cli)
    yield
    _remove_releases(kube, helm4_cli)


@pytest.fixture
def fresh_namespace(kube: Kube) -> Iterator[Callable[[str], str]]:
    """Creates namespaces for the test (each name at most once) and deletes them afterwards."""
    created: list[str] = []

    def create(name: str) -> str:
        kube.wait_no_namespace_terminating()
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        created.append(name)
        return name

    yield create
    kube.delete("namespace", created)


@pytest.fixture(scope="module")
def installed(helm3_cli: HelmCli, helm4_cli: HelmCli, kube: Kube) -> Iterator[HelmCli]:
    """The chart installed with its defaults, exactly as documented, every workload ready."""
    _remove_releases(kube, helm4_cli)
    helm3_cli.documented("helm install dependencies helm_chart/HyperPodHelmChart --namespace kube-system")
    try:
        kube.wait_release_ready(RELEASE)
        yield helm3_cli
    finally:
        _remove_releases(kube, helm4_cli)



# The real Kubeflow operators, as local processes against `local_cluster`. Tests that take them
# must not install the chart's own trainingOperators / mpi-operator (set
# trainingOperators.enabled=false and mpi-operator.enabled=false): the chart's
# ValidatingWebhookConfiguration has the same compiled-in name as the one the local training
# operator serves, and would send every job to a Service nothing answers under kwok.


@pytest.fixture(scope="session")
def kubeflow_operator_binaries() -> tuple[Path, Path]:
    """The training operator and MPI operator, built from their Go modules (not skipped)."""
    return ensure_training_operator(), ensure_mpi_operator()


@pytest.fixture(scope="session")
def kubeflow_crds(local_cluster: cluster.ClusterStatus, kube: Kube) -> list[str]:
    """The chart's Kubeflow CRDs (rendered by helm from the chart), applied and Established."""
    return kubeflow_support.apply_crds(kube, kubeflow_support.chart_crds(helm_path(4)))


def _operator_home(local_cluster: cluster.ClusterStatus) -> tuple[Path, Path]:
    """The kubeconfig, and the cluster's own folder for the operators' logs and pid files."""
    assert local_cluster.kubeconfig is not None
    return Path(local_cluster.kubeconfig), local_cluster.state_dir


@pytest.fixture(scope="session")
def training_operator(local_cluster: cluster.ClusterStatus, kube: Kube, kubeflow_crds: list[str],
                      kubeflow_operator_binaries: tuple[Path, Path]) -> Iterator[operators.TrainingOperator]:
    """The real training operator (every chart scheme, never mpijob), its webhook served on
    loopback; stopped at the end of the session."""
    kubeconfig, directory = _operator_home(local_cluster)
    running = operators.start_training_operator(
        kubeconfig, directory, kubeflow_support.TRAINING_OPERATOR_NAMESPACE,
        binary=kubeflow_operator_binaries[0])
    try:
        kubeflow_support.make_webhook_adoptable(kube)
        yield running
    finally:
        operators.stop(operators.TRAINING_OPERATOR, directory)


@pytest.fixture
def loopback_webhook(training_operator: operators.TrainingOperator, local_cluster: cluster.ClusterStatus,
                     kube: Kube) -> operators.TrainingOperator:
    """The training operator with its webhook configuration in place. Other tests of the session
    install and uninstall the chart, whose release adopts that configuration (same name) and
    deletes it on uninstall; this puts it back."""
    kubeconfig, directory = _operator_home(local_cluster)
    operators.restore_webhook_configuration(kubeconfig, directory, training_operator)
    kubeflow_support.make_webhook_adoptable(kube)
    return training_operator


@pytest.fixture(scope="session")
def mpi_operator(local_cluster: cluster.ClusterStatus, kubeflow_crds: list[str],
                 kubeflow_operator_binaries: tuple[Path, Path]) -> Iterator[operators.RunningOperator]:
    """The real MPI operator, leading through its Lease; stopped at the end of the session."""
    kubeconfig, directory = _operator_home(local_cluster)
    running = operators.start_mpi_operator(kubeconfig, directory, kubeflow_support.MPI_LOCK_NAMESPACE,
                                           binary=kubeflow_operator_binaries[1])
    try:
        yield running
    finally:
        operators.stop(operators.MPI_OPERATOR, directory)


@pytest.fixture
def faults(kube: Kube) -> Iterator[Callable[[str], None]]:
    """Mark nodes faulty (the auto-restart tests); each is healthy again afterwards."""
    with autorestart_support.node_faults(kube) as inject:
        yield inject
