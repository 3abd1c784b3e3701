"""`cluster up` gives a working control plane with RBAC and Ready simulated HyperPod nodes that
run pods; `cluster down` leaves no process and no listening port behind."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from hyperpod_deps.core.quantity import parse_quantity
from hyperpod_deps.localcluster import cluster, processes
from hyperpod_deps.localcluster.nodespec import default_spec, node_objects
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _run(kubectl: list[str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*kubectl, *args], capture_output=True, text=True, check=check)


def _json(kubectl: list[str], *args: str) -> Any:
    return json.loads(_run(kubectl, *args, "-o", "json").stdout)


def test_every_component_runs(local_cluster: cluster.ClusterStatus) -> None:
    assert local_cluster.running, local_cluster
    version = local_cluster.versions["kubernetes"]
    assert version == "1.35.4"


def test_server_reports_the_pinned_version(kubectl: list[str]) -> None:
    assert json.loads(_run(kubectl, "get", "--raw", "/version").stdout)["gitVersion"] == "v1.35.4"


def test_nodes_are_ready_with_hyperpod_labels_and_capacity(
        kubectl: list[str], local_cluster: cluster.ClusterStatus) -> None:
    expected = {n["metadata"]["name"]: n for n in node_objects(local_cluster.name, default_spec())}
    nodes = {n["metadata"]["name"]: n for n in _json(kubectl, "get", "nodes")["items"]}
    assert set(nodes) == set(expected)
    for name, node in nodes.items():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", name
        for key, value in expected[name]["metadata"]["labels"].items():
            assert node["metadata"]["labels"][key] == value
        for resource, quantity in expected[name]["status"]["capacity"].items():
            # The API server keeps quantities in canonical form (2048Gi comes back as 2Ti).
            assert parse_quantity(node["status"]["allocatable"][resource]) == parse_quantity(quantity), (
                name, resource)
    p5 = [n for n in nodes.values()
          if n["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "ml.p5.48xlarge"]
    assert len(p5) == 2
    assert p5[0]["status"]["capacity"]["nvidia.com/gpu"] == "8"
    assert p5[0]["status"]["capacity"]["vpc.amazonaws.com/efa"] == "32"


def test_rbac_forbids_an_unprivileged_user(kubectl: list[str]) -> None:
    denied = _run(kubectl, "--as", "someone", "get", "pods", "-n", "default", check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    can_i = _run(kubectl, "auth", "can-i", "--as", "someone", "list", "nodes", check=False)
    assert can_i.stdout.strip() == "no"
    assert _run(kubectl, "auth", "can-i", "list", "nodes").stdout.strip() == "yes"


def test_gpu_pod_runs_on_a_gpu_node(kubectl: list[str]) -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "gpu-smoke", "namespace": "default"},
        "spec": {
            "nodeSelector": {"node.kubernetes.io/instance-type": "ml.p5.48xlarge"},
            "containers": [{"name": "train", "image": "example.invalid/train:1",
                            "resources": {"limits": {"nvidia.com/gpu": "8",
                                                     "vpc.amazonaws.com/efa": "32"}}}],
        },
    }
    subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(pod), text=True, check=True,
                   capture_output=True)
    _run(kubectl, "wait", "--for=jsonpath={.status.phase}=Running", "pod/gpu-smoke", "-n", "default",
         "--timeout=90s")
    running = _json(kubectl, "get", "pod", "gpu-smoke", "-n", "default")
    node = _json(kubectl, "get", "node", running["spec"]["nodeName"])
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "ml.p5.48xlarge"


def test_up_refuses_a_running_cluster(local_cluster: cluster.ClusterStatus) -> None:
    with pytest.raises(cluster.ClusterError, match="already"):
        cluster.up(local_cluster.name, default_spec())


def test_down_leaves_no_process_and_frees_the_ports(control_plane_binaries: ControlPlaneBinaries) -> None:
    name = "e2e-down"
    cluster.down(name)
    started = cluster.up(name, default_spec(), binaries=control_plane_binaries)
    pids = [c.pid for c in started.components]
    ports = [c.port for c in started.components]
    assert all(pids) and all(ports)
    stopped = cluster.down(name, purge=True)
    assert stopped.stopped
    assert not stopped.state_dir.exists()
    for pid in pids:
        assert not _alive(pid), pid
    for port in ports:
        assert port is not None and processes.port_free(port), port


def _alive(pid: int | None, settle_seconds: float = 5) -> bool:
    deadline = time.monotonic() + settle_seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True
