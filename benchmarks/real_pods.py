"""The chart's own pods on a real node of the local cluster: each pod's memory and CPU at idle,
read from its own cgroup, against the requests and limits the chart gives it; and the job
auto-restart controller's failover time between its two real replicas.

    .venv/bin/python benchmarks/real_pods.py [--idle-seconds 60] [--failovers 3]

Starts `hyperpod-deps cluster up --real-nodes 1` (cluster `bench-real-pods`), installs the chart
on `generic` with the values that place the controller and operators on the real node, waits
until they are Ready, lets them settle, measures, then takes the cluster down. Needs root, `make
image`, `make operators` and the real nodes' Debian packages (docs/local-cluster.md).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import arguments, cluster, load_average, save, summary

from hyperpod_deps.core.manifest import is_ready
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.toolchain.helm import helm_path, kubectl_path

NAME = "bench-real-pods"
CONTROLLER_LEASE = ("kube-system", "dependencies-job-auto-restart")
PODS = {  # what to measure: namespace, label selector
    "health-monitoring-agent": ("aws-hyperpod", "app.kubernetes.io/name=health-monitoring-agent"),
    "job-auto-restart": ("kube-system", "app.kubernetes.io/name=job-auto-restart"),
    "training-operator": ("kubeflow", "app.kubernetes.io/name=training-operator"),
    "mpi-operator": ("kube-system", "app.kubernetes.io/name=mpi-operator"),
}


def kubectl(kubeconfig: Path, *args: str) -> Any:
    done = subprocess.run([str(kubectl_path()), "--kubeconfig", str(kubeconfig), *args, "-o", "json"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def pods_on(kubeconfig: Path, node: str, namespace: str, selector: str) -> list[dict[str, Any]]:
    listed = kubectl(kubeconfig, "get", "pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in listed
            if p["spec"].get("nodeName") == node and not p["metadata"].get("deletionTimestamp")]


def cgroup(hierarchy: str, cgroup_root: str, uid: str) -> Path:
    found = list(Path(f"/sys/fs/cgroup/{hierarchy}{cgroup_root}").rglob(f"pod{uid}"))
    if not found:
        sys.exit(f"no {hierarchy} cgroup for pod {uid} under {cgroup_root}")
    return found[0]


def measure(pod: dict[str, Any], cgroup_root: str, seconds: float) -> dict[str, Any]:
    uid = pod["metadata"]["uid"]
    cpu = cgroup("cpuacct", cgroup_root, uid) / "cpuacct.usage"
    before, started = int(cpu.read_text()), time.monotonic()
    time.sleep(seconds)
    used = (int(cpu.read_text()) - before) / 1e9 / (time.monotonic() - started)
    memory = cgroup("memory", cgroup_root, uid)
    stat = dict(line.split() for line in (memory / "memory.stat").read_text().splitlines())
    container = pod["spec"]["containers"][0]["resources"]
    return {"pod": pod["metadata"]["name"], "rss_mib": round(int(stat["total_rss"]) / 2**20, 1),
            "usage_mib": round(int((memory / "memory.usage_in_bytes").read_text()) / 2**20, 1),
            "cpu_percent": round(used * 100, 2), "requests": container.get("requests", {}),
            "limits": container.get("limits", {})}


def holder(kubeconfig: Path) -> str:
    namespace, name = CONTROLLER_LEASE
    return str(kubectl(kubeconfig, "get", "lease", name, "-n", namespace)["spec"].get("holderIdentity") or "")


def failover(kubeconfig: Path, node: str) -> float:
    """Delete the leader; seconds until a live other replica holds the Lease."""
    namespace, selector = PODS["job-auto-restart"]
    first = holder(kubeconfig)
    started = time.monotonic()
    subprocess.run([str(kubectl_path()), "--kubeconfig", str(kubeconfig), "delete", "pod", first,
                    "-n", namespace, "--wait=false"], check=True, capture_output=True)
    while time.monotonic() - started < 120:
        now = holder(kubeconfig)
        live = {p["metadata"]["name"] for p in pods_on(kubeconfig, node, namespace, selector) if is_ready(p)}
        if now and now != first and now in live:
            return round(time.monotonic() - started, 2)
        time.sleep(0.1)
    sys.exit("no failover within 120 s")


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--failovers", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("real nodes need root")
    up = cluster("up", "--name", NAME, "--node", "ml.g5.8xlarge=1", "--real-nodes", "1")
    if up.returncode != 0:
        sys.exit("cluster up failed")
    layout = Layout.for_cluster(NAME)
    kubeconfig = layout.default_kubeconfig
    try:
        node = f"{NAME}-real-0"
        subprocess.run([str(helm_path(3)), "install", "dependencies", "helm_chart/HyperPodHelmChart",
                        "--namespace", "kube-system", "--set", "global.platform=generic",
                        "-f", str(layout.root / "real-node-values.yaml"), "--kubeconfig", str(kubeconfig)],
                       check=True, capture_output=True)
        deadline = time.monotonic() + 300
        while not all(any(is_ready(p) for p in pods_on(kubeconfig, node, *where)) for where in PODS.values()):
            if time.monotonic() > deadline:
                sys.exit("the chart's pods were not Ready on the real node within 300 s")
            time.sleep(2)
        time.sleep(30)  # start-up work done (first lists, leader election)
        cgroup_root = (layout.root / "real" / "n0" / "cgroup-root").read_text().strip()
        idle = {component: measure(pods_on(kubeconfig, node, *where)[0], cgroup_root, args.idle_seconds)
                for component, where in PODS.items()}
        failovers = [failover(kubeconfig, node) for _ in range(args.failovers)]
        for component, seen in idle.items():
            print(f"| {component} | {seen['rss_mib']} MiB | {seen['cpu_percent']}% | "
                  f"{seen['requests']} | {seen['limits']} |")
        print(f"controller failover: {summary(failovers)} s over {len(failovers)} runs")
        save("real_pods", {"idle_seconds": args.idle_seconds, "idle": idle, "failover_seconds": failovers,
                           "load_average": load_average()})
    finally:
        cluster("down", "--name", NAME, "--purge")


if __name__ == "__main__":
    main()
