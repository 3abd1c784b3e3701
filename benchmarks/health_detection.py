"""The open health agent: detection latency, and what it costs when idle.

On a local cluster of its own, one `hyperpod-deps health agent` process (production settings,
kernel lines from a log file; NVML, Neuron and EFA off: there is no such hardware here) marks
one simulated node. For each of --faults rounds the script appends an Xid 79 line to the file
and times until a watch on the node sees the health label at UnschedulablePendingReplacement:
line written -> label visible in the API server. Between rounds it labels the node Schedulable
by hand, as a person would, and waits until the agent has taken its taint off.

Before the rounds, the agent sits idle for --idle-seconds: its CPU time over that span (from
/proc/<pid>/stat) and its memory (VmRSS, VmHWM) are the idle cost.

    .venv/bin/python benchmarks/health_detection.py --faults 50 --idle-seconds 60
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchlib
import yaml

from hyperpod_deps.core import wire
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.informer import Informer
from hyperpod_deps.kube.nodes import NODE, one_node
from hyperpod_deps.localcluster import cluster
from hyperpod_deps.localcluster.nodespec import from_pairs
from hyperpod_deps.localcluster.processes import control_plane_env, free_port
from hyperpod_deps.toolchain.helm import kubectl_path

XID79 = ("Nov 28 12:00:01 node kernel: [ 4242.000001] NVRM: Xid (PCI:0000:b9:00): 79, pid={pid}, "
         "name=python, GPU has fallen off the bus.\n")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class Watcher:
    """Every change of the node's health label and taint, stamped when the informer delivers it."""

    def __init__(self, kube: Kube, node: str) -> None:
        self.seen: queue.Queue[tuple[float, str | None, bool]] = queue.Queue()
        self.stopping = threading.Event()
        self._informer = Informer(one_node(node), self, lambda: kube, self.stopping,
                                  logging.getLogger("benchmarks.health_detection"))

    def start(self) -> None:
        self._informer.start("node-watch")

    def listed(self, items: list[Manifest]) -> None:
        pass  # the rounds start from the node as it is

    def changed(self, event_type: str, obj: Manifest) -> None:
        if event_type == "MODIFIED":
            labels = obj["metadata"].get("labels") or {}
            tainted = any(t.get("key") == wire.NODE_HEALTH_LABEL for t in obj["spec"].get("taints") or [])
            self.seen.put((time.monotonic(), labels.get(wire.NODE_HEALTH_LABEL), tainted))

    def wait(self, label: str, tainted: bool, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while True:
            at, seen_label, seen_taint = self.seen.get(timeout=max(0.01, deadline - time.monotonic()))
            if seen_label == label and seen_taint == tainted:
                return at

    def drain(self) -> None:
        while not self.seen.empty():
            self.seen.get_nowait()


def start_agent(workdir: Path, node: str, kubeconfig: Path) -> subprocess.Popen[bytes]:
    log = workdir / "kern.log"
    log.touch()
    settings = {"platform": "generic", "metricsPort": free_port(), "stateDir": str(workdir / "state"),
                "sources": {"journal": {"enabled": False}, "kmsg": {"enabled": False},
                            "nvml": {"enabled": False}, "neuron": {"enabled": False},
                            "efa": {"enabled": False},
                            "logFiles": {"paths": [str(log)], "trustKernelTag": True}}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(settings))
    output = (workdir / "agent.out").open("ab")
    command = [benchlib.hyperpod_deps(), "health", "agent", "--config", str(workdir / "config.yaml"),
               "--kubeconfig", str(kubeconfig)]
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                            env={**control_plane_env(), "NODE_NAME": node})


def main() -> None:
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--faults", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=60)
    options = parser.parse_args()
    name = f"bench-health-{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-health-"))
    kubeconfig = workdir / "kubeconfig"
    cluster.up(name, from_pairs([("ml.p5.48xlarge", 1)]), kubeconfig)
    agent, watcher = None, None
    try:
        kube = Kube.connect(kubeconfig)
        node = str(next(iter(kube.list(NODE)))["metadata"]["name"])
        agent = start_agent(workdir, node, kubeconfig)
        time.sleep(5)  # start-up (imports, first list and watch) is not idle time
        load_idle = benchlib.load_average()
        before = cpu_seconds(agent.pid)
        time.sleep(options.idle_seconds)
        idle_cpu = (cpu_seconds(agent.pid) - before) / options.idle_seconds
        idle_memory = benchlib.memory(agent.pid)
        watcher = Watcher(kube, node)
        watcher.start()
        latencies = rounds(options.faults, workdir / "kern.log", watcher, node, kubeconfig)
        load_after = benchlib.load_average()
        busy_memory = benchlib.memory(agent.pid)
    finally:
        if watcher is not None:
            watcher.stopping.set()
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
        cluster.down(name, purge=True)
    report(latencies, idle_cpu, idle_memory, busy_memory, load_idle, load_after)


def rounds(count: int, log: Path, watcher: Watcher, node: str, kubeconfig: Path) -> list[float]:
    latencies = []
    for index in range(count):
        watcher.drain()
        written = time.monotonic()
        with log.open("a") as handle:
            handle.write(XID79.format(pid=10_000 + index))
        latencies.append(watcher.wait(wire.UNSCHEDULABLE_PENDING_REPLACEMENT, True) - written)
        # A person lowers the label; the agent takes the taint off (debounced) and waits for news.
        label(kubeconfig, node, wire.SCHEDULABLE)
        watcher.wait(wire.SCHEDULABLE, False)
        print(f"fault {index + 1}: {latencies[-1] * 1000:.0f} ms", file=sys.stderr)
    return latencies


def label(kubeconfig: Path, node: str, value: str) -> None:
    subprocess.run([str(kubectl_path()), "--kubeconfig", str(kubeconfig), "label", "node", node,
                    f"{wire.NODE_HEALTH_LABEL}={value}", "--overwrite"], check=True, capture_output=True)


def report(latencies: list[float], idle_cpu: float, idle: benchlib.Memory,
           busy: benchlib.Memory, load_idle: float, load_after: float) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
    benchlib.save("health_detection", {
        "faults": len(latencies), "latency_ms": [round(x * 1000, 1) for x in latencies],
        "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "max_ms": round(ordered[-1] * 1000, 1),
        "idle_cpu_percent": round(idle_cpu * 100, 2), "idle_memory": idle.as_dict(),
        "after_faults_memory": busy.as_dict(), "load_idle": load_idle, "load_after": load_after})
    print(f"| {len(latencies)} | {p50:.0f} ms | {p99:.0f} ms | {ordered[-1] * 1000:.0f} ms "
          f"| {idle_cpu * 100:.2f}% | {idle.rss_mib} MiB (after the faults {busy.rss_mib} MiB, "
          f"peak {busy.peak_mib} MiB) | {load_idle} / {load_after} |")


if __name__ == "__main__":
    main()
