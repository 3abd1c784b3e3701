"""`hyperpod-deps demo` on the real local control plane: it starts a cluster, installs the chart
with the real helm, waits for every component, and prints where each one runs; run again, it
reuses the cluster, and `--down` stops it."""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from hyperpod_deps.cli.demo import demo_command
from hyperpod_deps.localcluster import cluster
from hyperpod_deps.toolchain.helm import kubectl_path
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries

pytestmark = [pytest.mark.e2e]

NVIDIA_TYPES = ("ml.p5.48xlarge", "ml.g5.8xlarge")
CPU_TYPE = "ml.m5.2xlarge"
NEURON_TYPE = "ml.trn1.32xlarge"


@dataclass
class NodeRow:
    instance_type: str
    components: dict[str, str]  # component -> workload, as printed


@dataclass(frozen=True)
class DemoRun:
    name: str
    result: Result


@pytest.fixture(scope="module")
def demo(control_plane_binaries: ControlPlaneBinaries) -> Iterator[DemoRun]:
    """One demo run on a cluster of its own; the binaries fixture only makes sure they are built."""
    name = f"demo-{os.getpid()}"
    cluster.down(name, purge=True)
    try:
        yield DemoRun(name, CliRunner().invoke(demo_command, ["--name", name, "--timeout", "180"]))
    finally:
        cluster.down(name, purge=True)


def nodes_table(stdout: str) -> dict[str, NodeRow]:
    """The NODE | INSTANCE TYPE | COMPONENT | WORKLOAD table; continuation lines start with spaces."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["NODE", "INSTANCE"])
    rows: dict[str, NodeRow] = {}
    current: NodeRow | None = None
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = line.split()
        if not line.startswith(" "):
            node, instance_type, *rest = cells
            current = rows[node] = NodeRow(instance_type, {})
        else:
            rest = cells
        assert current is not None and len(rest) == 2, line
        if rest != ["-", "-"]:
            current.components[rest[0]] = rest[1]
    return rows


def test_demo_succeeds_and_prints_the_helm_command(demo: DemoRun) -> None:
    assert demo.result.exit_code == 0, demo.result.output
    assert ("install dependencies helm_chart/HyperPodHelmChart --namespace kube-system --kubeconfig"
            in demo.result.stderr)
    assert "extra values for a local cluster: none" in demo.result.stderr
    assert "Release dependencies installed in namespace kube-system" in demo.result.stdout


def test_device_plugins_run_exactly_on_their_accelerators(demo: DemoRun) -> None:
    rows = nodes_table(demo.result.stdout)
    by_type: dict[str, list[NodeRow]] = {}
    for row in rows.values():
        by_type.setdefault(row.instance_type, []).append(row)
    assert sorted((t, len(r)) for t, r in by_type.items()) == [
        ("ml.g5.8xlarge", 1), (CPU_TYPE, 1), ("ml.p5.48xlarge", 2), (NEURON_TYPE, 1)]
    for instance_type in NVIDIA_TYPES:
        for row in by_type[instance_type]:
            assert row.components["nvidia-device-plugin"] == "DaemonSet/dependencies-nvidia-device-plugin"
            assert row.components["health-monitoring-agent"] == "DaemonSet/health-monitoring-agent"
            assert row.components["aws-efa-k8s-device-plugin"].startswith("DaemonSet/")
            assert "neuron-device-plugin" not in row.components
    (trn1,) = by_type[NEURON_TYPE]
    assert trn1.components["neuron-device-plugin"] == "DaemonSet/dependencies-neuron-device-plugin"
    assert trn1.components["health-monitoring-agent"] == "DaemonSet/health-monitoring-agent-neuron"
    assert "nvidia-device-plugin" not in trn1.components
    (cpu,) = by_type[CPU_TYPE]
    # The operators' Deployments may land anywhere; no node agent belongs on a CPU node.
    assert not [w for w in cpu.components.values() if w.startswith("DaemonSet/")], cpu.components


def test_the_table_matches_the_pods_the_api_server_has(demo: DemoRun) -> None:
    status = cluster.status(demo.name)
    assert status.running and status.kubeconfig is not None
    pods = json.loads(subprocess.run(
        [str(kubectl_path()), "--kubeconfig", str(status.kubeconfig), "get", "pods", "-n", "kube-system",
         "-l", "app.kubernetes.io/instance=dependencies", "-o", "json"],
        capture_output=True, text=True, check=True).stdout)["items"]
    from_api = {(p["spec"]["nodeName"], p["metadata"]["ownerReferences"][0]["name"])
                for p in pods if p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"}
    printed = {(node, workload.removeprefix("DaemonSet/"))
               for node, row in nodes_table(demo.result.stdout).items()
               for workload in row.components.values() if workload.startswith("DaemonSet/")}
    assert printed == from_api
    assert len(from_api) == 12  # 3 NVIDIA nodes x 2, 1 Trainium node x 2, 4 EFA nodes


def test_the_user_is_told_how_to_use_and_stop_the_cluster(demo: DemoRun) -> None:
    status = cluster.status(demo.name)
    assert f"export KUBECONFIG={status.kubeconfig}" in demo.result.stdout
    assert "kubectl get pods -A -o wide" in demo.result.stdout
    assert f"hyperpod-deps cluster down --name {demo.name}" in demo.result.stdout


def test_a_second_run_reuses_the_cluster_and_down_stops_it(demo: DemoRun) -> None:
    before = cluster.status(demo.name)
    again = CliRunner().invoke(demo_command, ["--name", demo.name, "--down", "--timeout", "180"])
    assert again.exit_code == 0, again.output
    assert f"cluster '{demo.name}' is already running ({before.server}): reusing it" in again.stderr
    assert "upgrade --install dependencies helm_chart/HyperPodHelmChart" in again.stderr
    assert "Release dependencies upgraded" in again.stdout
    assert nodes_table(again.stdout) == nodes_table(demo.result.stdout)
    assert "The cluster is stopped (--down)" in again.stdout
    assert cluster.status(demo.name).stopped
