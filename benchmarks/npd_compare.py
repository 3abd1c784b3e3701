"""Our health agent side by side with node-problem-detector (built from its Go module), in one run:

1. classification throughput (lines/s, and lines per CPU second) over a generated corpus of
   kernel log lines (kernel_corpus.py: syslog and kmsg framings, faults planted at known lines):
   our classifier in this process on both framings; NPD standalone and our agent process, each
   taking the syslog corpus as one burst appended to the file it tails (compare_throughput.py);
2. on a local cluster, detection latency of an Xid 79, line written -> node change seen on a
   watch (NPD: its condition; ours: the health label), p50 / p99 (compare_latency.py);
3. idle CPU and resident memory of both processes, side by side.

Ratios are ours / NPD's. The corpus goes to a temporary folder and is deleted afterwards.

    .venv/bin/python benchmarks/npd_compare.py                 # make bench-health
    .venv/bin/python benchmarks/npd_compare.py --records 200000 --runs 1 --samples 10   # a quick look
"""
from __future__ import annotations

import os
import random
import signal
import tempfile
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import benchlib
import compare_latency
import compare_throughput
import kernel_corpus
import node_watch
import npd_report
from compare_latency import AGENT, NPD, Cluster

from hyperpod_deps.health.rules import RuleSet
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.localcluster import cluster
from hyperpod_deps.localcluster.nodespec import from_pairs
from hyperpod_deps.toolchain.kubeflow import KUBEFLOW, ensure_node_problem_detector


def throughput(bench: Cluster, corpora: dict[str, kernel_corpus.Summary], runs: int,
               scratch: Path) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"classifier_syslog": [], "classifier_kmsg": [],
                                                "npd": [], "agent": []}
    syslog = corpora["syslog"]
    for run in range(runs):
        for fmt, corpus in corpora.items():
            results[f"classifier_{fmt}"].append(compare_throughput.classifier(corpus, bench.rules))
        # Alternate who goes first, so neither always meets the same moment of a shared machine.
        order = ["npd", "agent"] if run % 2 == 0 else ["agent", "npd"]
        for side in order:
            work = scratch / f"throughput-{side}-{run}"
            work.mkdir()
            if side == "npd":
                results["npd"].append(compare_throughput.npd(bench.npd_binary, work, syslog, bench.rules))
            else:
                node = f"npd-bench-throughput-{run}"
                node_watch.create_node(bench.kube, node)
                results["agent"].append(compare_throughput.agent(work, syslog, node, bench.kubeconfig))
            print(f"throughput run {run + 1}/{runs} {side}: {results[side][-1]['lines_per_second']} lines/s",
                  flush=True)
    return results


def latency(bench: Cluster, samples: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(f"latency-{seed}")
    results: dict[str, list[dict[str, Any]]] = {"npd": [], "agent": []}
    for index in range(samples):
        for side in ([NPD, AGENT] if index % 2 == 0 else [AGENT, NPD]):
            results[side.name].append(compare_latency.sample(bench, side, index, rng))
        print(f"latency sample {index + 1}/{samples}: npd {results['npd'][-1]['seconds']:.3f} s, "
              f"agent {results['agent'][-1]['seconds']:.3f} s", flush=True)
    return results


def _stop_on_sigterm() -> None:
    """SIGTERM (a timeout, a CI cancel) unwinds like Ctrl-C, so the cluster and detectors stop."""
    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)


def main() -> None:
    _stop_on_sigterm()
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--records", type=int, default=1_000_000, help="kernel log records in the corpus")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs of each kind")
    parser.add_argument("--samples", type=int, default=50, help="latency samples of each detector")
    parser.add_argument("--idle-seconds", type=float, default=60,
                        help="idle CPU window (CPU time comes in 10 ms ticks: 60 s resolves 0.017%%)")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    npd = ensure_node_problem_detector()
    rules = RuleSet.load()
    name = f"npd-bench-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="npd-bench-") as folder:
        scratch = Path(folder)
        start = datetime.now().replace(microsecond=0)
        corpora = {fmt: kernel_corpus.write(scratch / f"corpus-{fmt}.log", options.records, fmt, options.seed,
                                            start) for fmt in ("syslog", "kmsg")}
        print("corpus:", {fmt: c.as_dict() for fmt, c in corpora.items()}, flush=True)
        status = cluster.up(name, from_pairs([("ml.m5.2xlarge", 1)]))
        assert status.kubeconfig is not None and status.server is not None
        kube = Kube.connect(status.kubeconfig)
        watch = node_watch.NodeWatch(kube)
        watch.start()
        try:
            bench = Cluster(kube, watch, status.server, status.kubeconfig, npd, rules)
            result: dict[str, Any] = {
                "npd_version": KUBEFLOW.node_problem_detector, "seed": options.seed,
                "corpus": {fmt: c.as_dict() for fmt, c in corpora.items()},
                "load_at_start": benchlib.load_average(),
                "throughput": throughput(bench, corpora, options.runs, scratch),
                "latency": latency(bench, options.samples, options.seed),
                "idle": compare_latency.idle(bench, [NPD, AGENT], options.idle_seconds),
                "idle_seconds": options.idle_seconds,
            }
        finally:
            watch.stop()
            kube.close()
            cluster.down(name, purge=True)
    result["summary"] = npd_report.summary(result)
    benchlib.save("npd_compare", result)
    print(npd_report.table(result["summary"]))


if __name__ == "__main__":
    main()
