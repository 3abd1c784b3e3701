"""Job auto-restart under load: the real training operator and the controller as local processes.

A local cluster with the given nodes, the chart's Kubeflow CRDs, the real training operator
(pods made and recreated by it), the auto-restart controller (`hyperpod-deps jobs controller`),
and N opted-in PyTorchJobs (1 master + W workers). Then, `--rounds` times, `--burst` nodes that run
job pods are marked faulty at once (health label + taint, as the health agent does), and for each
job under them the time until every one of its pods is replaced and Running is measured
(fault-to-all-pods-recreated). The nodes are healed between rounds. The controller's CPU time
and memory (/proc) are read at each step, and its own fault-to-restart histogram at the end.

    .venv/bin/python benchmarks/auto_restart.py --node ml.p5.48xlarge=10 --jobs 10 --rounds 10 --burst 1
    .venv/bin/python benchmarks/auto_restart.py --nodes benchmarks/nodes/2000.yaml --jobs 500 --workers 1 \\
        --rounds 1 --burst 50
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import benchlib
import yaml

from hyperpod_deps.chart.render import RenderRequest, render
from hyperpod_deps.core import wire
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.localcluster import cluster, operators, processes
from hyperpod_deps.toolchain.helm import helm_path

CHART = Path(__file__).resolve().parents[1] / "helm_chart" / "HyperPodHelmChart"
POD = ResourceType("v1", "Pod", "pods", True)
NODE = ResourceType("v1", "Node", "nodes", False)
NAMESPACE = "bench"
LABEL = "training.kubeflow.org/job-name"
SCHEDULABLE = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": wire.NODE_HEALTH_LABEL, "operator": "In", "values": ["Schedulable"]}
                    ]
                }
            ]
        }
    }
}


def job(name: str, workers: int) -> dict[str, Any]:
    def replicas(count: int) -> dict[str, Any]:
        return {
            "replicas": count,
            "restartPolicy": "OnFailure",
            "template": {
                "spec": {
                    "affinity": SCHEDULABLE,
                    "containers": [
                        {
                            "name": "pytorch",
                            "image": "registry.invalid/train:1",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                        }
                    ],
                }
            },
        }

    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {wire.AUTO_RESUME_ANNOTATION: "true", wire.MAX_RETRY_ANNOTATION: "100"},
        },
        "spec": {"pytorchReplicaSpecs": {"Master": replicas(1), "Worker": replicas(workers)}},
    }


def pods_by_job(kube: Kube) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for pod in kube.snapshot(POD, NAMESPACE, label_selector=LABEL).items:
        found.setdefault(pod["metadata"]["labels"][LABEL], []).append(pod)
    return found


def all_running(pods: list[dict[str, Any]], count: int) -> bool:
    return len(pods) == count and all(
        p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp") for p in pods
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks (USER_HZ = 100)


class Probe:
    """The controller process's CPU and memory at named moments."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.marks: list[dict[str, Any]] = []
        self._last = (time.monotonic(), cpu_seconds(pid))

    def mark(self, what: str) -> None:
        now, cpu = time.monotonic(), cpu_seconds(self.pid)
        wall, used = now - self._last[0], cpu - self._last[1]
        self.marks.append(
            {
                "step": what,
                "wall_seconds": round(wall, 1),
                "cpu_seconds": round(used, 2),
                "cpu_percent": round(100 * used / wall, 1) if wall else 0.0,
                **benchlib.memory(self.pid).as_dict(),
                "load": benchlib.load_average(),
            }
        )
        self._last = (now, cpu)
        print(f"  {what}: {self.marks[-1]}", file=sys.stderr, flush=True)


def set_fault(kube: Kube, node: str, faulty: bool) -> None:
    current = kube.get(NODE, node)
    assert current is not None
    taints = [t for t in current["spec"].get("taints") or [] if t.get("key") != wire.NODE_HEALTH_LABEL]
    if faulty:
        taints.append(dict(wire.NODE_HEALTH_TOLERATION))
    value = wire.UNSCHEDULABLE_PENDING_REPLACEMENT if faulty else wire.SCHEDULABLE
    kube.merge_patch(
        NODE,
        node,
        None,
        {"metadata": {"labels": {wire.NODE_HEALTH_LABEL: value}}, "spec": {"taints": taints}},
    )


def start_controller(kubeconfig: Path, folder: Path, port: int) -> subprocess.Popen[bytes]:
    settings = folder / "settings.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "platform": "generic",
                "kinds": ["PyTorchJob"],
                "logLevel": "info",
                "metrics": {"port": port, "bindAddress": "127.0.0.1"},
                "leaderElection": {"leaseNamespace": "default"},
            }
        )
    )
    log = (folder / "controller.log").open("ab")
    return subprocess.Popen(
        [
            benchlib.hyperpod_deps(),
            "jobs",
            "controller",
            "--config",
            str(settings),
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "POD_NAME": "bench-controller", "POD_NAMESPACE": "default"},
    )


def measure_round(kube: Kube, size: int, burst: int, timeout: float) -> dict[str, Any]:
    before = pods_by_job(kube)
    on_node: dict[str, set[str]] = {}
    for name, pods in before.items():
        for pod in pods:
            on_node.setdefault(pod["spec"]["nodeName"], set()).add(name)
    candidates = sorted(on_node, key=lambda n: -len(on_node[n]))
    faulty = candidates[:burst]
    affected = set().union(*(on_node[n] for n in faulty))
    old = {name: {p["metadata"]["uid"] for p in before[name]} for name in affected}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: set_fault(kube, n, True), faulty))
    injected = time.monotonic() - started
    latency: dict[str, float] = {}
    while len(latency) < len(affected) and time.monotonic() - started < timeout:
        now = pods_by_job(kube)
        for name in affected - set(latency):
            pods = now.get(name, [])
            if (
                all_running(pods, size)
                and not {p["metadata"]["uid"] for p in pods} & old[name]
                and not {p["spec"].get("nodeName") for p in pods} & set(faulty)
            ):
                latency[name] = round(time.monotonic() - started, 2)
        time.sleep(0.25 if len(affected) <= 20 else 1.0)  # listing every pod is not free at scale
    return {
        "faulty_nodes": faulty,
        "injected_within_seconds": round(injected, 2),
        "jobs_affected": len(affected),
        "jobs_recreated": len(latency),
        "latencies_seconds": sorted(latency.values()),
    }


def wait_established(kube: Kube, names: list[str]) -> None:
    """The operator exits when its CRDs are not served yet."""
    crd_type = kube.resource_type("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert crd_type is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [kube.get(crd_type, name) for name in names]
        if all(
            any(
                c["type"] == "Established" and c["status"] == "True"
                for c in ((crd or {}).get("status") or {}).get("conditions") or []
            )
            for crd in found
        ):
            return
        time.sleep(0.5)
    sys.exit(f"CRDs {names} not Established")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def metric_lines(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return [
        line
        for line in text.splitlines()
        if line.startswith("hyperpod_deps_auto_restart_") and "_created" not in line
    ]


def main() -> None:
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--nodes", type=Path, help="a node spec file (benchmarks/nodes/*.yaml)")
    parser.add_argument("--node", action="append", default=[], help="TYPE=COUNT, instead of --nodes")
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--burst", type=int, default=1, help="nodes marked faulty at once per round")
    parser.add_argument("--timeout", type=float, default=600)
    options = parser.parse_args()
    name = "bench-autorestart"
    node_args = (
        ["--nodes", str(options.nodes)] if options.nodes else [a for n in options.node for a in ("--node", n)]
    )
    benchlib.cluster("down", "--name", name, "--purge")
    up = benchlib.cluster("up", "--name", name, *node_args)
    if up.returncode != 0:
        sys.exit("cluster up failed")
    status = cluster.status(name)
    assert status.kubeconfig is not None
    kubeconfig, result = Path(status.kubeconfig), {"jobs": options.jobs, "pods_per_job": 1 + options.workers}
    controller = None
    try:
        with Kube.connect(kubeconfig) as kube, tempfile.TemporaryDirectory() as scratch:
            crds = render(
                helm_path(3),
                RenderRequest(
                    chart=CHART, extra_args=("--show-only", "charts/trainingOperators/templates/crds.yaml")
                ),
            )
            for crd in crds:
                kube.create(crd)
            wait_established(kube, [c["metadata"]["name"] for c in crds])
            operators.start_training_operator(kubeconfig, status.state_dir)
            port = processes.free_port()
            controller = start_controller(kubeconfig, Path(scratch), port)
            probe = Probe(controller.pid)
            kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
            started = time.monotonic()
            for index in range(options.jobs):
                kube.create(job(f"job-{index:04d}", options.workers))
            size = 1 + options.workers
            while (
                not all(all_running(p, size) for p in pods_by_job(kube).values())
                or len(pods_by_job(kube)) < options.jobs
            ):
                if time.monotonic() - started > options.timeout:
                    sys.exit("the jobs' pods were not all Running in time")
                time.sleep(2)
            result["all_pods_running_seconds"] = round(time.monotonic() - started, 1)
            probe.mark("jobs created, pods Running")
            time.sleep(30)
            probe.mark("steady, 30 s")
            rounds: list[dict[str, Any]] = []
            for number in range(options.rounds):
                outcome = measure_round(kube, size, options.burst, options.timeout)
                rounds.append(outcome)
                probe.mark(
                    f"round {number + 1}: {outcome['jobs_recreated']}/{outcome['jobs_affected']} jobs back"
                )
                for node in outcome["faulty_nodes"]:
                    set_fault(kube, node, False)
            latencies = [v for r in rounds for v in r["latencies_seconds"]]
            result.update(
                rounds=rounds,
                controller=probe.marks,
                controller_metrics=metric_lines(port),
                fault_to_all_pods_recreated={
                    "samples": len(latencies),
                    "p50": percentile(latencies, 0.5),
                    "p99": percentile(latencies, 0.99),
                    "max": max(latencies),
                    "mean": round(statistics.mean(latencies), 2),
                },
            )
    finally:
        if controller is not None:
            controller.terminate()
            controller.wait(timeout=30)
        operators.stop_all(status.state_dir)
        benchlib.cluster("down", "--name", name, "--purge")
    benchlib.save(f"auto_restart_{options.jobs}_jobs", result)
    figures = result["fault_to_all_pods_recreated"]
    print(
        f"| {options.jobs} jobs | {figures['samples']} | {figures['p50']} s | {figures['p99']} s | "
        f"{max(m['peak_mib'] for m in probe.marks)} MiB |"
    )


if __name__ == "__main__":
    main()
