"""Detection latency and idle cost of the two detectors against the local cluster.

Latency, one sample: a fresh simulated node, a fresh empty log file and a fresh detector
process for it (node-problem-detector with its Kubernetes exporter; our agent); once it is
running (NPD: its initial condition is on the node; ours: it logged that it started) and after
a settle time with a random part (so the line lands at any phase of the detectors' polling),
one Xid 79 line is appended; latency = from just before that write to the arrival, on a watch
of the nodes, of the first node version showing the fault (NPD: its condition True; ours: the
health label Unschedulable...). A fresh node and process per sample because both report a
fault once: a second Xid 79 changes nothing visible.
"""
from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchlib
import detectors
import kernel_corpus
import node_watch
import npd_config
from detectors import Detector
from node_watch import Node, NodeWatch

from hyperpod_deps.health.rules import RuleSet
from hyperpod_deps.kube.client import Kube

SETTLE_SECONDS = 1.0
DETECTION_TIMEOUT_SECONDS = 30
READY_TIMEOUT_SECONDS = 60


@dataclass
class Cluster:
    kube: Kube
    watch: NodeWatch
    server: str
    kubeconfig: Path
    npd_binary: Path
    rules: RuleSet


@dataclass(frozen=True)
class Side:
    """One detector as the latency and idle runs start it and read it."""

    name: str
    start: Callable[[Cluster, Path, Path, str], Detector]
    ready: Callable[[Cluster, Detector, str], bool]
    detected: Callable[[Node], bool]


def _start_npd(cluster: Cluster, work: Path, tailed: Path, node: str) -> Detector:
    return detectors.start_npd(cluster.npd_binary, work, tailed, node, cluster.rules, cluster.server,
                               cluster.kubeconfig)


def _npd_ready(cluster: Cluster, _detector: Detector, node: str) -> bool:
    return cluster.watch.first(node, node_watch.condition_present(npd_config.CONDITION), 0) is not None


def _start_agent(cluster: Cluster, work: Path, tailed: Path, node: str) -> Detector:
    return detectors.start_agent(work, tailed, node, cluster.kubeconfig)


def _agent_ready(_cluster: Cluster, detector: Detector, _node: str) -> bool:
    return detector.log_has(detectors.AGENT_STARTED)


NPD = Side("npd", _start_npd, _npd_ready, node_watch.condition_true(npd_config.CONDITION))
AGENT = Side("agent", _start_agent, _agent_ready, node_watch.quarantined)


def _running(cluster: Cluster, side: Side, node: str, work: Path) -> tuple[Detector, Path]:
    node_watch.create_node(cluster.kube, node)
    tailed = work / "kern.log"
    tailed.touch()
    detector = side.start(cluster, work, tailed, node)
    try:
        detectors.wait_until(lambda: side.ready(cluster, detector, node), "start", detector,
                             READY_TIMEOUT_SECONDS)
    except BaseException:
        detector.stop()
        raise
    return detector, tailed


def sample(cluster: Cluster, side: Side, index: int, rng: random.Random) -> dict[str, Any]:
    node = f"npd-bench-{side.name}-{index}"
    with tempfile.TemporaryDirectory(prefix=f"npd-bench-{side.name}-") as scratch:
        detector, tailed = _running(cluster, side, node, Path(scratch))
        try:
            time.sleep(SETTLE_SECONDS + rng.random())
            line = (kernel_corpus.live_xid79(rng) + "\n").encode()
            load = benchlib.load_average()
            handle = os.open(tailed, os.O_WRONLY | os.O_APPEND)
            written = time.monotonic()
            os.write(handle, line)
            os.close(handle)
            seen = cluster.watch.first(node, side.detected, DETECTION_TIMEOUT_SECONDS)
        finally:
            detector.stop()
    if seen is None:
        raise SystemExit(f"{side.name}: node {node} showed no fault {DETECTION_TIMEOUT_SECONDS} s "
                         "after the line")
    return {"node": node, "seconds": round(seen - written, 4), "load": load}


def idle(cluster: Cluster, sides: list[Side], seconds: float, settle: float = 10) -> dict[str, Any]:
    """Every side running at once on its own node and empty file, nothing logged: CPU over
    `seconds` after `settle`, and resident memory."""
    with tempfile.TemporaryDirectory(prefix="npd-bench-idle-") as scratch:
        running: list[tuple[Side, Detector]] = []
        try:
            for side in sides:
                work = Path(scratch) / side.name
                work.mkdir()
                running.append((side, _running(cluster, side, f"npd-bench-{side.name}-idle", work)[0]))
            time.sleep(settle)
            load = benchlib.load_average()
            before = {side.name: d.cpu_seconds() for side, d in running}
            time.sleep(seconds)
            used = {side.name: d.cpu_seconds() - before[side.name] for side, d in running}
            return {side.name: {"cpu_percent": round(100 * used[side.name] / seconds, 3),
                                **d.memory().as_dict(), "load_before": load,
                                "load_after": benchlib.load_average()} for side, d in running}
        finally:
            for _, detector in running:
                detector.stop()
