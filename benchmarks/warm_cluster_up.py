"""Warm `hyperpod-deps cluster up` (binaries already built and cached), default five nodes.

Runs `cluster up` then `cluster down` several times on a cluster of its own and reports the
median. The first run of a new cluster name also makes its certificates; later runs keep them,
as a user's `up` after `down` does.

    .venv/bin/python benchmarks/warm_cluster_up.py --runs 5
"""
from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass

import benchlib


@dataclass(frozen=True)
class Run:
    up_seconds: float
    down_seconds: float
    nodes_added_at: float | None  # when `up` started adding nodes: the control plane was healthy
    load_before: float
    load_after: float


def main() -> None:
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    name = f"bench-warm-{os.getpid()}"
    runs: list[Run] = []
    try:
        for index in range(options.runs):
            load = benchlib.load_average()
            up = benchlib.cluster("up", "--name", name)
            if up.returncode != 0:
                sys.exit(f"cluster up failed (exit {up.returncode})")
            down = benchlib.cluster("down", "--name", name)
            runs.append(Run(up.seconds, down.seconds, up.first("adding"), load, benchlib.load_average()))
            print(f"run {index + 1}: up {up.seconds:.1f}s, down {down.seconds:.1f}s, load {load}",
                  file=sys.stderr)
    finally:
        benchlib.cluster("down", "--name", name, "--purge")
    up_seconds = benchlib.summary([r.up_seconds for r in runs])
    down_seconds = benchlib.summary([r.down_seconds for r in runs])
    benchlib.save("warm_cluster_up", {"runs": [asdict(r) for r in runs], "up_seconds": up_seconds,
                                      "down_seconds": down_seconds})
    loads = [r.load_before for r in runs]
    print(f"| warm `cluster up`, 5 nodes | {len(runs)} | {up_seconds['median']:.1f} s "
          f"| {up_seconds['min']:.1f}-{up_seconds['max']:.1f} s | down {down_seconds['median']:.1f} s "
          f"| load {min(loads)}-{max(loads)} |")


if __name__ == "__main__":
    main()
