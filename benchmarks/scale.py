"""`cluster up` with many simulated nodes, then the chart installed on it, on one cluster:

- how long `hyperpod-deps cluster up --nodes nodes/<N>.yaml` takes until every node is Ready
  (where it fails, as it does at 1,000 nodes, the failure is recorded, and the cluster is brought
  up with nodes/100.yaml and grown to N nodes with parallel `kubectl create`, timed too);
- how long from the start of `helm install` until every Deployment and DaemonSet is ready
  (the DaemonSets put a pod on most nodes: the mixes in nodes/ are mostly p5, g5 and trn1);
- resident memory (VmRSS now, VmHWM peak, from /proc/<pid>/status) of kube-apiserver, etcd and
  the other control-plane processes, with the nodes alone and once the chart is ready.

    .venv/bin/python benchmarks/scale.py --nodes 100
    .venv/bin/python benchmarks/scale.py --nodes 1000
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import benchlib
import yaml

from hyperpod_deps.cli.demo import Kubectl, helm_argv, wait_ready
from hyperpod_deps.localcluster import cluster, nodespec
from hyperpod_deps.localcluster.nodespec import node_objects
from hyperpod_deps.toolchain.helm import helm_path, kubectl_path

CHART = Path(__file__).resolve().parents[1] / "helm_chart" / "HyperPodHelmChart"


def node_timeline(name: str) -> dict[str, float]:
    """From the API server's own timestamps (whole seconds): how long creating the nodes took, and
    when the last one turned Ready, both counted from the first node's creation."""
    status = cluster.status(name)
    assert status.kubeconfig is not None
    nodes = Kubectl(kubectl_path(), status.kubeconfig).items("nodes")
    created = [_time(n["metadata"]["creationTimestamp"]) for n in nodes]
    ready = [_time(c["lastTransitionTime"]) for n in nodes for c in n["status"]["conditions"]
             if c["type"] == "Ready" and c["status"] == "True"]
    first = min(created)
    return {"nodes": len(nodes), "ready": len(ready), "created_within_seconds": max(created) - first,
            "last_ready_after_seconds": max(ready) - first}


def _time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def memory_of(name: str) -> dict[str, dict[str, float]]:
    return {c.name: benchlib.memory(c.pid).as_dict() for c in cluster.status(name).components if c.pid}


def install_until_ready(name: str, timeout_seconds: float) -> dict[str, Any]:
    status = cluster.status(name)
    assert status.kubeconfig is not None
    loads = [benchlib.load_average()]

    def progress(line: str) -> None:
        loads.append(benchlib.load_average())
        print(f"  {line}", file=sys.stderr, flush=True)

    started = time.monotonic()
    helm = subprocess.run(helm_argv(helm_path(3), str(CHART), status.kubeconfig, reused=False),
                          capture_output=True, text=True, check=False)
    helm_seconds = time.monotonic() - started
    if helm.returncode != 0:
        sys.exit(f"helm install failed:\n{helm.stderr}")
    api = Kubectl(kubectl_path(), status.kubeconfig)
    statuses = wait_ready(lambda: api.release_objects("daemonsets,deployments"), timeout_seconds, progress)
    ready_seconds = time.monotonic() - started
    loads.append(benchlib.load_average())
    return {"helm_seconds": round(helm_seconds, 2), "ready_seconds": round(ready_seconds, 2),
            "pods": sum(s.desired for s in statuses),
            "workloads": {str(s.ref): s.desired for s in statuses},
            "load_during": {"min": min(loads), "max": max(loads)}}


def bring_up(name: str, spec: Path) -> dict[str, Any]:
    """`cluster up --nodes spec`, as a user runs it. Should it fail, the nodes are brought up
    another way (see grow_to), so the install can still be measured at that size."""
    up = benchlib.cluster("up", "--name", name, "--nodes", str(spec))
    record: dict[str, Any] = {"seconds": up.seconds, "ok": up.returncode == 0,
                              "control_plane_seconds": up.first("adding")}
    if up.returncode == 0:
        return {**record, "server_timeline": node_timeline(name)}
    timed_out = [line for _, line in up.stderr_lines if "timed out waiting" in line]
    others = [line for _, line in up.stderr_lines if "timed out waiting" not in line]
    record["failure"] = {"nodes_not_confirmed_ready": len(timed_out), "last_lines": others[-3:]}
    seed = benchlib.NODE_SPECS / "100.yaml"
    seeded = benchlib.cluster("up", "--name", name, "--nodes", str(seed))
    if seeded.returncode != 0:
        sys.exit(f"cluster up --nodes {seed} failed too (exit {seeded.returncode})")
    grown = grow_to(name, spec)
    return {**record, "fallback": {"seed_spec": seed.name, "seed_up_seconds": seeded.seconds, **grown,
                                   "server_timeline": node_timeline(name)}}


def grow_to(name: str, spec: Path, parallel: int = 4) -> dict[str, Any]:
    """Create the nodes of the spec that the cluster lacks (the same objects `cluster up` would,
    names included), with several `kubectl create` at once, and wait until every node is Ready."""
    kubeconfig = cluster.status(name).kubeconfig
    assert kubeconfig is not None
    kubectl = [str(kubectl_path()), "--kubeconfig", str(kubeconfig)]
    existing = {n["metadata"]["name"] for n in Kubectl(kubectl_path(), kubeconfig).items("nodes")}
    wanted = node_objects(name, nodespec.parse(spec.read_text(), str(spec)))
    missing = [n for n in wanted if n["metadata"]["name"] not in existing]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        creates = []
        for index in range(parallel):
            manifest = Path(scratch) / f"nodes-{index}.yaml"
            manifest.write_text(yaml.safe_dump_all(missing[index::parallel]))
            creates.append(subprocess.Popen([*kubectl, "create", "-f", str(manifest)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for create in creates:
            _, error = create.communicate()
            if create.returncode != 0:
                sys.exit(f"kubectl create failed: {error}")
    created = time.monotonic() - started
    ready_query = '{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'
    while True:
        answer = subprocess.run([*kubectl, "get", "nodes", "-o", f"jsonpath={ready_query}"],
                                capture_output=True, text=True, check=False)
        if answer.stdout.split().count("True") >= len(wanted):
            break
        if time.monotonic() - started > 900:
            sys.exit("the nodes were not all Ready after 900 s")
        time.sleep(2)
    return {"added": len(missing), "parallel_creates": parallel, "created_seconds": round(created, 2),
            "all_ready_seconds": round(time.monotonic() - started, 2)}


def main() -> None:
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--nodes", type=int, choices=(100, 1000), required=True)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the chart")
    options = parser.parse_args()
    spec = benchlib.NODE_SPECS / f"{options.nodes}.yaml"
    name = f"bench-scale-{options.nodes}"
    benchlib.cluster("down", "--name", name, "--purge")
    load_before_up = benchlib.load_average()
    try:
        up = bring_up(name, spec)
        nodes_only = memory_of(name)
        load_before_install = benchlib.load_average()
        install = install_until_ready(name, options.timeout)
        with_chart = memory_of(name)
    finally:
        benchlib.cluster("down", "--name", name, "--purge")
    result = {
        "nodes": options.nodes, "node_spec": f"benchmarks/nodes/{spec.name}",
        "cluster_up": {**up, "load_before": load_before_up},
        "install": {**install, "load_before": load_before_install},
        "memory_mib": {"nodes_only": nodes_only, "with_chart_ready": with_chart},
    }
    benchlib.save(f"scale_{options.nodes}", result)
    during = install["load_during"]
    up_figure = f"{up['seconds']:.1f} s" + ("" if up["ok"] else " (failed)")
    print(f"| {options.nodes} | {up_figure} | {install['pods']} | {install['ready_seconds']:.1f} s "
          f"| {_memory(nodes_only, with_chart, 'kube-apiserver')} "
          f"| {_memory(nodes_only, with_chart, 'etcd')} "
          f"| {load_before_up} / {during['min']}-{during['max']} |")


def _memory(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], process: str) -> str:
    """RSS with the nodes alone / RSS with the chart ready / peak RSS."""
    return (f"{before[process]['rss_mib']:.0f} / {after[process]['rss_mib']:.0f} / "
            f"{after[process]['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
