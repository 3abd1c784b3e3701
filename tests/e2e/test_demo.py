"""`hyperpod-deps demo` on the real local control plane: it starts a cluster, installs the chart
for the generic platform with the real helm, waits for every component, prints where each one
runs, then submits an auto-resume PyTorchJob, breaks a GPU under it and shows the node quarantined
and the job back on healthy nodes; run again, it reuses the cluster and replaces the quarantined
node; `--no-fault` skips the story and `--down` stops everything it started.

Three runs on one cluster: the first (module fixture), a rerun, and a `--no-fault --down` run, all
with `--stand-ins` (the chart's pods played by local processes, as on a machine that cannot run a
real node); test_demo_real_pods.py runs the demo with the chart's own pods.
What the API server holds is read right after each run, so the tests do not depend on their order.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hyperpod_deps.cli.demo import demo_command
from hyperpod_deps.core import wire
from hyperpod_deps.localcluster import cluster, processes
from hyperpod_deps.toolchain.helm import kubectl_path
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries
from tests.support.kube_support import ApiObject, Kube

pytestmark = [pytest.mark.e2e]

NVIDIA_TYPES = ("ml.p5.48xlarge", "ml.g5.8xlarge")
CPU_TYPE = "ml.m5.2xlarge"
NEURON_TYPE = "ml.trn1.32xlarge"
RELEASE_SELECTOR = "app.kubernetes.io/instance=dependencies"
JOB, JOB_NAMESPACE = "demo-resume", "hyperpod-demo"
RESTART_COUNT = "hyperpod-deps.io/auto-restart-count"
TIMEOUT = ["--timeout", "180"]


@dataclass
class NodeRow:
    instance_type: str
    components: dict[str, str]  # component -> workload, as printed


@dataclass(frozen=True)
class Story:
    """The auto-resume section of the output."""

    faulty: str
    quarantine: str  # the line about the faulty node
    restarts: str
    moves: dict[str, list[str]]  # role -> pod before, node before, pod after, node after
    events: list[str]
    logs: dict[str, Path]


@dataclass(frozen=True)
class Seen:
    """The cluster as the API server shows it right after a run, and the processes the run left."""

    nodes: dict[str, ApiObject]
    release: list[ApiObject]  # the release's DaemonSets, Deployments and pods
    job: ApiObject | None
    job_pods: list[ApiObject]
    whoami: dict[str, str]  # stand-in -> the user its kubeconfig authenticates as
    pids: dict[str, int]  # every pid file under run/ -> its pid
    alive: frozenset[str]  # those whose process group still had a live process


@dataclass(frozen=True)
class DemoRun:
    name: str
    result: Result
    status: cluster.ClusterStatus
    seen: Seen


def run_demo(name: str, *options: str) -> DemoRun:
    result = CliRunner().invoke(demo_command, ["--name", name, "--stand-ins", *TIMEOUT, *options])
    status = cluster.status(name)
    return DemoRun(name, result, status, look(status))


def look(status: cluster.ClusterStatus) -> Seen:
    pids = running_pids(status.state_dir)
    alive = frozenset(name for name, pid in pids.items() if processes.group_members(pid))
    if not status.running or status.kubeconfig is None:
        return Seen({}, [], None, [], {}, pids, alive)
    kube = Kube((str(kubectl_path()), "--kubeconfig", str(status.kubeconfig)))
    return Seen({n["metadata"]["name"]: n for n in kube.cluster_items("nodes")},
                kube.items("daemonsets,deployments,pods", None, RELEASE_SELECTOR),
                kube.get("pytorchjob", JOB, JOB_NAMESPACE),
                kube.items("pods", JOB_NAMESPACE, f"training.kubeflow.org/job-name={JOB}"),
                {folder.name: whoami(folder / "kubeconfig")
                 for folder in sorted((status.state_dir / "standins").glob("*")) if folder.is_dir()},
                pids, alive)


def whoami(kubeconfig: Path) -> str:
    review = json.loads(subprocess.run(
        [str(kubectl_path()), "--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "json"],
        capture_output=True, text=True, check=True).stdout)
    return str(review["status"]["userInfo"]["username"])


def running_pids(root: Path) -> dict[str, int]:
    return {f.stem: int(f.read_text().split()[0]) for f in sorted((root / "run").glob("*.pid"))}


@pytest.fixture(scope="module")
def demo(control_plane_binaries: ControlPlaneBinaries) -> Iterator[DemoRun]:
    """One demo run on a cluster of its own; the binaries fixture only makes sure they are built."""
    name = f"demo-{os.getpid()}"
    cluster.down(name, purge=True)
    try:
        yield run_demo(name)
    finally:
        cluster.down(name, purge=True)


@pytest.fixture(scope="module")
def rerun(demo: DemoRun) -> DemoRun:
    """The same command again on the running cluster, the earlier run's node still quarantined."""
    return run_demo(demo.name)


@pytest.fixture(scope="module")
def last_run(rerun: DemoRun) -> tuple[DemoRun, dict[str, int]]:
    """`--no-fault --down` on the cluster the rerun left running; the pids running before it."""
    before = running_pids(rerun.status.state_dir)
    return run_demo(rerun.name, "--no-fault", "--down"), before


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


def daemonset_placement(stdout: str) -> set[tuple[str, str]]:
    return {(node, workload) for node, row in nodes_table(stdout).items()
            for workload in row.components.values() if workload.startswith("DaemonSet/")}


def story_of(stdout: str) -> Story:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Auto-resume: "))
    faulty = re.fullmatch(r"Auto-resume: PyTorchJob hyperpod-demo/demo-resume after an Xid 79 on (\S+)\.",
                          lines[start])
    restarts = re.search(r"restarts counted on the job: (\S+) ", lines[start + 2])
    assert faulty and restarts, lines[start:start + 3]
    assert lines[start + 3].split()[:3] == ["ROLE", "POD", "BEFORE"], lines[start + 3]
    events, logs = lines.index("Events on the job:", start), lines.index("Logs of the stand-ins:", start)
    moves = {cells[0]: cells[1:] for cells in (line.split() for line in lines[start + 4:events])}
    log_lines = [line.strip().split(": ", 1) for line in lines[logs + 1:lines.index("", logs)]]
    return Story(faulty.group(1), lines[start + 1], restarts.group(1), moves,
                 [line.strip() for line in lines[events + 1:logs]], {k: Path(v) for k, v in log_lines})


def health_of(node: ApiObject) -> str | None:
    health = node["metadata"].get("labels", {}).get(wire.NODE_HEALTH_LABEL)
    return None if health is None else str(health)


def health_taints(node: ApiObject) -> list[str]:
    return [t["effect"] for t in node["spec"].get("taints") or [] if t["key"] == wire.NODE_HEALTH_LABEL]


# The install -------------------------------------------------------------------------------

def test_demo_succeeds_and_prints_the_helm_command_for_the_generic_platform(demo: DemoRun) -> None:
    assert demo.result.exit_code == 0, demo.result.output
    assert ("install dependencies helm_chart/HyperPodHelmChart --namespace kube-system "
            "--set global.platform=generic --kubeconfig") in demo.result.stderr
    assert "Release dependencies installed in namespace kube-system" in demo.result.stdout
    steps = re.findall(r"^==> \[(\d)/6\]", demo.result.stderr, re.MULTILINE)
    assert steps == ["1", "2", "3", "4", "5", "6"]


def test_device_plugins_and_open_agents_run_exactly_on_their_accelerators(demo: DemoRun) -> None:
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
    assert trn1.components["neuron-device-plugin"] == "DaemonSet/neuron-device-plugin-daemonset"
    assert trn1.components["health-monitoring-agent"] == "DaemonSet/health-monitoring-agent-non-nvidia"
    assert "nvidia-device-plugin" not in trn1.components
    (cpu,) = by_type[CPU_TYPE]
    # The Deployments may land anywhere; no node agent belongs on a CPU node.
    assert not [w for w in cpu.components.values() if w.startswith("DaemonSet/")], cpu.components


def test_the_health_agent_daemonsets_are_the_open_agent(demo: DemoRun) -> None:
    agents = {o["metadata"]["name"]: o for o in demo.seen.release
              if o["kind"] == "DaemonSet" and o["metadata"]["labels"]["app.kubernetes.io/name"]
              == "health-monitoring-agent"}
    assert sorted(agents) == ["health-monitoring-agent", "health-monitoring-agent-non-nvidia"]
    for daemonset in agents.values():
        assert daemonset["metadata"]["labels"]["hyperpod-deps/agent"] == "open"
        (container,) = daemonset["spec"]["template"]["spec"]["containers"]
        assert container["image"].endswith("hyperpod-deps/agents:0.1.0"), container["image"]


def test_the_table_matches_the_pods_the_api_server_has(demo: DemoRun) -> None:
    pods = [o for o in demo.seen.release if o["kind"] == "Pod"]
    from_api = {(p["spec"]["nodeName"], f"DaemonSet/{p['metadata']['ownerReferences'][0]['name']}")
                for p in pods if p["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"}
    assert daemonset_placement(demo.result.stdout) == from_api
    assert len(from_api) == 12  # 3 NVIDIA nodes x 2, 1 Trainium node x 2, 4 EFA nodes


def test_the_user_is_told_how_to_use_and_stop_the_cluster(demo: DemoRun) -> None:
    assert f"export KUBECONFIG={demo.status.kubeconfig}" in demo.result.stdout
    assert "kubectl get pods -A -o wide" in demo.result.stdout
    assert f"hyperpod-deps cluster down --name {demo.name}" in demo.result.stdout


# The story ---------------------------------------------------------------------------------

def test_the_story_shows_the_faulty_node_quarantined_and_the_job_moved_off_it(demo: DemoRun) -> None:
    assert demo.result.exit_code == 0, demo.result.output
    story = story_of(demo.result.stdout)
    assert story.quarantine.startswith(
        f"  {story.faulty}: {wire.NODE_HEALTH_LABEL}=UnschedulablePendingReplacement, tainted NoSchedule (")
    assert sorted(story.moves) == ["master", "worker"]
    assert story.moves["worker"][1] == story.faulty  # the fault was put under the worker
    assert [move[3] for move in story.moves.values() if move[3] == story.faulty] == []
    assert story.restarts == "1"
    assert any(event.startswith("Normal AutoRestart: Restart 1 of 2 after NodeUnschedulable on node "
                                f"{story.faulty} ") for event in story.events), story.events


def test_the_api_server_agrees_with_the_story(demo: DemoRun) -> None:
    story, seen = story_of(demo.result.stdout), demo.seen
    faulty = seen.nodes[story.faulty]
    assert health_of(faulty) == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert health_taints(faulty) == [wire.NODE_HEALTH_TAINT_EFFECT] == ["NoSchedule"]
    assert [name for name, node in seen.nodes.items() if name != story.faulty and health_of(node)
            != wire.SCHEDULABLE] == []
    assert seen.job is not None
    assert seen.job["metadata"]["annotations"][RESTART_COUNT] == "1"
    placed = {p["metadata"]["labels"]["training.kubeflow.org/replica-type"]: p for p in seen.job_pods}
    assert sorted(placed) == ["master", "worker"]
    for role, pod in placed.items():
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"] != story.faulty
        assert [pod["metadata"]["name"], pod["spec"]["nodeName"]] == story.moves[role][2:]


def test_the_agent_on_the_faulty_node_saw_the_line(demo: DemoRun) -> None:
    story = story_of(demo.result.stdout)
    agent_log = story.logs["health-monitoring-agent"].read_text()
    assert story.faulty in story.logs["health-monitoring-agent"].name
    assert "GPU has fallen off the bus" in agent_log
    assert "restarting job" in story.logs["job-auto-restart"].read_text()


def test_the_stand_ins_act_as_the_charts_service_accounts(demo: DemoRun) -> None:
    workloads = [o for o in demo.seen.release if o["kind"] in ("Deployment", "DaemonSet")]
    accounts = {o["metadata"]["labels"]["app.kubernetes.io/name"]:
                f"system:serviceaccount:{o['metadata']['namespace']}:"
                f"{o['spec']['template']['spec']['serviceAccountName']}" for o in workloads
                if o["metadata"]["labels"]["app.kubernetes.io/name"] in ("job-auto-restart",
                                                                         "health-monitoring-agent")}
    accelerated = sorted(name for name, row in nodes_table(demo.result.stdout).items()
                         if row.instance_type != CPU_TYPE)
    assert demo.seen.whoami == {
        "job-auto-restart": accounts["job-auto-restart"],
        **{f"health-monitoring-agent-{node}": accounts["health-monitoring-agent"] for node in accelerated}}
    # The chart's own identities: the controller in the release namespace, the agent in aws-hyperpod.
    assert accounts == {
        "job-auto-restart": "system:serviceaccount:kube-system:dependencies-job-auto-restart",
        "health-monitoring-agent": "system:serviceaccount:aws-hyperpod:health-monitoring-agent"}


def test_the_stand_ins_keep_running_with_the_cluster(demo: DemoRun) -> None:
    standins = sorted(name for name in demo.seen.pids if name.startswith("standin-"))
    assert len(standins) == 5  # the controller and one agent per accelerated node
    assert set(standins) <= demo.seen.alive


# Again, and without the fault --------------------------------------------------------------

def test_a_second_run_reuses_the_cluster_and_replaces_the_quarantined_node(demo: DemoRun,
                                                                           rerun: DemoRun) -> None:
    again = rerun.result
    assert again.exit_code == 0, again.output
    assert f"cluster '{demo.name}' is already running ({demo.status.server}): reusing it" in again.stderr
    assert ("upgrade --install dependencies helm_chart/HyperPodHelmChart --namespace kube-system "
            "--set global.platform=generic") in again.stderr
    assert "Release dependencies upgraded" in again.stdout
    assert daemonset_placement(again.stdout) == daemonset_placement(demo.result.stdout)
    first = story_of(demo.result.stdout).faulty
    assert (f"{first} was quarantined by an earlier run: replaced by a healthy node of that name"
            in again.stderr)
    assert rerun.seen.nodes[first]["metadata"]["uid"] != demo.seen.nodes[first]["metadata"]["uid"]
    story = story_of(again.stdout)
    assert story.restarts == "1"  # a fresh job, one restart
    assert [move[3] for move in story.moves.values() if move[3] == story.faulty] == []
    assert health_of(rerun.seen.nodes[story.faulty]) == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    # One node quarantined, the one this run broke.
    unhealthy = [n for n, node in rerun.seen.nodes.items() if health_of(node) != wire.SCHEDULABLE]
    assert unhealthy == [story.faulty]


def test_no_fault_skips_the_story_and_down_leaves_no_process_running(
        last_run: tuple[DemoRun, dict[str, int]]) -> None:
    run, before = last_run
    assert run.result.exit_code == 0, run.result.output
    assert "Auto-resume:" not in run.result.stdout
    assert "[5/6] and [6/6] skipped (--no-fault)" in run.result.stderr
    assert "submitting PyTorchJob" not in run.result.stderr
    assert "The cluster is stopped (--down)" in run.result.stdout
    assert run.status.stopped
    assert len([name for name in before if name.startswith("standin-")]) == 5
    assert "training-operator" in before
    left = {name: pid for name, pid in before.items() if processes.group_members(pid)}
    assert left == {}
    assert run.seen.pids == {}
