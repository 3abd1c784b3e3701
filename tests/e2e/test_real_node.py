"""The chart's own pods on a real kubelet node (`cluster up --real-nodes 1`): real containers from
the images this project builds, pulled through the cluster's registry, under the chart's security
contexts, probes and ServiceAccounts.

One cluster for the module: a real node beside two simulated ones, the chart installed on
`generic` with the values `cluster up` writes (controller and operators on the real node). The
last test takes the cluster down and checks that nothing it put on the host is left.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hyperpod_deps.core import wire
from hyperpod_deps.core.manifest import is_ready
from hyperpod_deps.localcluster import cluster, realnodes
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.localcluster.nodespec import from_pairs
from hyperpod_deps.localcluster.realnode import REAL_NODE_LABEL
from hyperpod_deps.toolchain import agents_image
from hyperpod_deps.toolchain.helm import helm_path, kubectl_path
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries
from tests.support.charts import CHART
from tests.support.health_agent_support import XID79
from tests.support.helm_support import helm_env
from tests.support.journal_files import kernel, needs_remote, write_journal
from tests.support.kube_support import ApiObject, Kube
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e]

CONTROLLER = "dependencies-job-auto-restart"
LEASE = "dependencies-job-auto-restart"
JOURNAL = Path("/var/log/journal")  # the host's, which the agent pod reads through its hostPath
# A machine-id folder of the test's own; the agent follows the most recently written journal.
TEST_JOURNAL = JOURNAL / "5eed0f7e57000000000000000000c0de"


@dataclass(frozen=True)
class World:
    name: str
    kube: Kube
    node: str


@pytest.fixture(scope="module")
def world(control_plane_binaries: ControlPlaneBinaries, built_agents_image: agents_image.BuiltImage,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    assert os.geteuid() == 0, "a real node needs root"
    name = f"real-{os.getpid()}"
    admin = tmp_path_factory.mktemp("real") / "admin.kubeconfig"
    status = cluster.up(name, from_pairs([("ml.g5.8xlarge", 1), ("ml.m5.2xlarge", 1)]), admin,
                        binaries=control_plane_binaries, real_nodes=1)
    try:
        kube = Kube((str(kubectl_path()), "--kubeconfig", str(admin)))
        values = Layout.for_cluster(name).root / "real-node-values.yaml"
        subprocess.run([str(helm_path(3)), "install", "dependencies", str(CHART),
                        "--namespace", "kube-system", "--set", "global.platform=generic", "-f", str(values)],
                       env=helm_env(admin, admin.parent), check=True, capture_output=True, text=True)
        yield World(name, kube, status.real_nodes[0])
    finally:
        shutil.rmtree(TEST_JOURNAL, ignore_errors=True)
        cluster.down(name, purge=True)


def _pods_on(kube: Kube, node: str) -> list[ApiObject]:
    return [p for p in kube.items("pods") if p["spec"].get("nodeName") == node]


def test_the_chart_s_pods_become_ready_on_the_real_node(world: World) -> None:
    expected = {"health-monitoring-agent": 1, CONTROLLER: 2, "dependencies-training-operators": 1,
                "dependencies-mpi-operator": 1}

    def owners() -> dict[str, int]:
        counted: dict[str, int] = {}
        for pod in _pods_on(world.kube, world.node):
            if is_ready(pod):
                owner = pod["metadata"]["generateName"].rstrip("-")
                owner = owner if owner in expected else owner.rsplit("-", 1)[0]
                counted[owner] = counted.get(owner, 0) + 1
        return counted
    poll(owners, lambda seen: all(seen.get(k, 0) >= v for k, v in expected.items()),
         "the chart's pods Ready on the real node", 240)


def test_they_run_under_the_chart_s_security_context(world: World) -> None:
    """Every process of every container on the node (their cgroups on this machine): not root,
    no capabilities, no privilege escalation; the pause processes alike."""
    node_folder = realnodes.folder(Layout.for_cluster(world.name)) / "n0"
    processes = realnodes.container_pids(node_folder)
    assert len(processes) >= 10, f"only {len(processes)} container processes in the cgroups of {node_folder}"
    for pid in processes:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if ":\t" in line)
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        uids = status["Uid"].split()
        assert "0" not in uids, f"{command} runs as root: {status['Uid']}"
        assert int(status["CapEff"], 16) == 0, f"{command} has capabilities {status['CapEff']}"
        assert status["NoNewPrivs"].strip() == "1", f"{command} may gain privileges"


def test_device_plugins_stay_on_the_simulated_nodes(world: World) -> None:
    plugins = [p for p in world.kube.items("pods", "kube-system") if "device-plugin" in p["metadata"]["name"]]
    assert plugins, "the default install runs device plugins on the simulated GPU node"
    assert all(p["spec"].get("nodeName") != world.node for p in plugins)
    taints = world.kube.get("node", world.node)["spec"]["taints"]  # type: ignore[index]
    assert {"key": REAL_NODE_LABEL, "value": "true", "effect": "NoSchedule"} in taints


def _job(name: str, masters: int) -> dict[str, object]:
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"pytorchReplicaSpecs": {"Master": {"replicas": masters, "template": {"spec": {
                "containers": [{"name": "pytorch", "image": "registry.invalid/trainer:1"}]}}}}}}


def test_the_training_operator_pod_serves_its_webhook(world: World) -> None:
    # Its Service is routed to the pod once the EndpointSlice says Ready and the service router
    # has seen it (within its period): until then the call is refused on this machine.
    refused = poll(lambda: world.kube.run("create", "-f", "-", stdin=json.dumps(_job("two-masters", 2)),
                                          check=False),
                   lambda answer: "connection refused" not in answer.stderr, "the webhook to answer", 30)
    assert refused.returncode != 0
    assert 'admission webhook "validator.pytorchjob.training-operator.kubeflow.org" denied' in refused.stderr
    assert "must be 1" in refused.stderr
    world.kube.run("create", "-f", "-", stdin=json.dumps(_job("one-master", 1)))
    world.kube.delete("pytorchjob", ["one-master"], "default")


def _holder(kube: Kube) -> str:
    lease = kube.get("lease", LEASE, "kube-system")
    return str((lease or {}).get("spec", {}).get("holderIdentity") or "")


def _controller_pods(kube: Kube) -> set[str]:
    return {p["metadata"]["name"]
            for p in kube.items("pods", "kube-system", "app.kubernetes.io/name=job-auto-restart")
            if is_ready(p) and not p["metadata"].get("deletionTimestamp")}


def test_a_deleted_leader_hands_the_lease_to_another_replica(world: World) -> None:
    """The leader releases its Lease when the kubelet stops it; the standby replica or the one
    the Deployment starts in its place takes it (whichever asks first) and says so in its log."""
    first = poll(lambda: _holder(world.kube), lambda holder: holder in _controller_pods(world.kube),
                 "a replica to lead", 60)
    started = time.monotonic()
    world.kube.run("delete", "pod", first, "--namespace", "kube-system", "--wait=false")
    second = poll(lambda: _holder(world.kube),
                  lambda holder: holder not in ("", first) and holder in _controller_pods(world.kube),
                  "another replica to take the lease", 90)
    print(f"controller failover between real pods: {time.monotonic() - started:.1f}s ({first} -> {second})")
    poll(lambda: world.kube.run("logs", second, "--namespace", "kube-system").stdout,
         lambda logs: '"msg":"became leader"' in logs, "the new leader's log to say so", 30)


@needs_remote
def test_an_xid_in_the_host_s_journal_quarantines_the_real_node_through_the_agent_pod(world: World) -> None:
    TEST_JOURNAL.mkdir(parents=True, exist_ok=True)
    # Stamped now: an agent that has read a journal before (its cursor is on the host) skips a new
    # journal's records from before that cursor's time, as it would after journald started afresh.
    write_journal(TEST_JOURNAL / "system.journal", [kernel(XID79.format(pid=4242))],
                  realtime=time.time_ns() // 1000)
    node = poll(lambda: world.kube.get("node", world.node),
                lambda n: (n or {}).get("metadata", {}).get("labels", {}).get(wire.NODE_HEALTH_LABEL)
                == wire.UNSCHEDULABLE_PENDING_REPLACEMENT, "the agent pod to quarantine its node", 60)
    assert node is not None
    assert node["metadata"]["labels"][wire.FAULT_TYPES_LABEL] == "NvidiaGPUUnhealthy"
    agent = next(p for p in _pods_on(world.kube, world.node)
                 if p["metadata"]["name"].startswith("health-monitoring-agent-"))
    logs = world.kube.run("logs", agent["metadata"]["name"], "--namespace", "aws-hyperpod").stdout
    assert "Xid" in logs or "NvidiaGPUUnhealthy" in logs, logs[-2000:]


def test_down_leaves_nothing_on_the_host(world: World) -> None:
    layout = Layout.for_cluster(world.name)
    real = realnodes.folder(layout) / "n0"
    bridge = (real / "bridge").read_text().strip()
    cgroup_root = (real / "cgroup-root").read_text().strip().lstrip("/")
    cluster.down(world.name)
    assert not Path(f"/sys/class/net/{bridge}").exists(), f"bridge {bridge} is left"
    assert not real.exists(), f"{real} is left"
    assert str(layout.root) not in Path("/proc/self/mountinfo").read_text(), "mounts are left"
    for hierarchy in realnodes.cgroup_hierarchies():
        assert not (hierarchy / cgroup_root).exists(), f"cgroup {hierarchy / cgroup_root} is left"
    assert not realnodes.HOST_RECORD.exists() or realnodes.kubelets_running()
    assert not Path("/run/containerd/s").exists() or not list(Path("/run/containerd/s").iterdir())
