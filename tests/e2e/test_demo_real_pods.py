"""`hyperpod-deps demo --real-pods`: the chart's own pods on a real node tell the story. The agent
pod reads an Xid 79 from the host's journal and quarantines its node, the controller pod deletes
the job's pods, the training operator pod recreates them, and they run on healthy nodes; no
stand-in or local operator process is started. One run on a cluster of its own."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from hyperpod_deps.cli.demo import demo_command
from hyperpod_deps.core import wire
from hyperpod_deps.localcluster import cluster
from hyperpod_deps.toolchain import agents_image
from hyperpod_deps.toolchain.helm import kubectl_path
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries
from tests.support.journal_files import needs_remote
from tests.support.kube_support import ApiObject, Kube

pytestmark = [pytest.mark.e2e, needs_remote]

JOB, JOB_NAMESPACE = "demo-resume", "hyperpod-demo"


@dataclass(frozen=True)
class Run:
    result: Result
    status: cluster.ClusterStatus
    real_node: ApiObject
    job_pods: list[ApiObject]


@pytest.fixture(scope="module")
def run(control_plane_binaries: ControlPlaneBinaries, built_agents_image: agents_image.BuiltImage,
        kubeflow_operator_binaries: object) -> Iterator[Run]:
    """The image and operator builds are fixtures so the demo finds them (CI builds them first)."""
    name = f"demo-real-{os.getpid()}"
    cluster.down(name, purge=True)
    try:
        result = CliRunner().invoke(demo_command, ["--name", name, "--real-pods", "--timeout", "240"])
        status = cluster.status(name)
        assert status.kubeconfig is not None and status.real_nodes, result.output
        kube = Kube((str(kubectl_path()), "--kubeconfig", str(status.kubeconfig)))
        real_node = kube.get("node", status.real_nodes[0])
        assert real_node is not None
        yield Run(result, status, real_node,
                  kube.items("pods", JOB_NAMESPACE, f"training.kubeflow.org/job-name={JOB}"))
    finally:
        cluster.down(name, purge=True)


def test_the_demo_succeeds_with_the_chart_s_pods_on_the_real_node(run: Run) -> None:
    assert run.result.exit_code == 0, run.result.output
    node = run.status.real_nodes[0]
    assert f"the chart's pods on the real node {node}" in run.result.stderr
    assert "played by stand-ins" not in run.result.stderr  # the demo says so when it uses them
    assert "stand-ins for the chart's pods" not in run.result.stderr
    assert not (run.status.state_dir / "standins").exists()  # nothing played by a local process


def test_the_real_node_was_quarantined_by_the_agent_pod(run: Run) -> None:
    labels = run.real_node["metadata"]["labels"]
    assert labels[wire.NODE_HEALTH_LABEL] == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert labels[wire.FAULT_TYPES_LABEL] == "NvidiaGPUUnhealthy"
    out = run.result.stdout
    node = run.status.real_nodes[0]
    assert f"Auto-resume: PyTorchJob {JOB_NAMESPACE}/{JOB} after an Xid 79 on {node}." in out
    assert 'health-monitoring-agent said: {"level":"info"' in out and '"msg":"node written"' in out


def test_the_controller_pod_restarted_the_job_onto_healthy_nodes(run: Run) -> None:
    out = run.result.stdout
    assert '"msg":"restarting job"' in out
    assert "Normal AutoRestart: Restart 1 of 2 after NodeUnschedulable" in out
    nodes = {pod["spec"].get("nodeName") for pod in run.job_pods}
    assert len(run.job_pods) == 2 and run.status.real_nodes[0] not in nodes
    assert all(pod["status"].get("phase") == "Running" for pod in run.job_pods)
    assert "Logs of the chart's pods:" in out
    assert "kubectl logs -n aws-hyperpod health-monitoring-agent-" in out
