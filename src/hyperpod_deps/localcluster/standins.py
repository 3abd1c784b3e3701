"""Local processes standing in for the chart's own pods.

kwok marks pods Running but runs no containers, so on a local cluster nothing inside the chart's
Deployments and DaemonSets acts. A stand-in is the same program the pod would run
(`hyperpod-deps jobs controller`, `hyperpod-deps health agent`), started here with that pod's
identity (its ServiceAccount's token) and settings, its log and pid file in the cluster's folder,
and stopped with the cluster.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from hyperpod_deps.localcluster import processes
from hyperpod_deps.localcluster.layout import Layout

PREFIX = "standin-"


def start(layout: Layout, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Start (or restart) the stand-in `name`; returns its pid. Its output goes to log_file(name)."""
    component = PREFIX + name
    processes.stop(component, layout)
    return processes.start(component, argv, layout, env=env)


def running(layout: Layout, name: str) -> int | None:
    return processes.running_pid(PREFIX + name, layout)


def log_file(layout: Layout, name: str) -> Path:
    return layout.log_file(PREFIX + name)


def workdir(layout: Layout, name: str) -> Path:
    """A private folder for the stand-in's settings, state and (for node agents) its node's logs."""
    folder = layout.root / "standins" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stop_all(layout: Layout) -> None:
    """Stop every stand-in started for this cluster."""
    if not layout.run.is_dir():
        return
    for pid_file in sorted(layout.run.glob(f"{PREFIX}*.pid")):
        processes.stop(pid_file.stem, layout)
