"""The blast-radius guard: how much the controller may bring down within a window.

A stolen or buggy health agent can mark every node faulty at once; without a limit the
controller would then take down every opted-in job. Like EKS node auto-repair and NVSentinel,
it stops when too much looks broken at the same time, and says so: past a share of the opted-in
jobs restarted, or of the nodes acted on, within a sliding window, a restart waits until old
ones leave the window, and the job gets an Event with the reason.

Pure: the caller gives the clock and the cluster's counts. The memory is the controller's own,
so a new leader starts with an empty window (docs/auto-restart.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class GuardSettings:
    """Mirrors the chart's job-auto-restart.controller.blastRadius."""

    max_job_percent: int = 50  # of the opted-in jobs
    max_node_percent: int = 20  # of the cluster's nodes
    window_seconds: float = 600.0
    # Restarts of this many jobs, and faults on this many nodes, are always allowed in a window,
    # so a small cluster (two jobs, three nodes) still recovers from a single fault.
    min_jobs: int = 1
    min_nodes: int = 1


@dataclass(frozen=True)
class Admission:
    allowed: bool
    reason: str = ""
    limit: str = ""  # which limit refused: "jobs" or "nodes"
    retry_at: float | None = None  # when the oldest action leaves the window


@dataclass(frozen=True)
class _Action:
    at: float
    job: str
    nodes: frozenset[str]


@dataclass
class BlastRadiusGuard:
    settings: GuardSettings
    _actions: list[_Action] = field(default_factory=list)

    def admit(self, now: float, job: str, nodes: Iterable[str], opted_in: Collection[str],
              cluster_nodes: Collection[str]) -> Admission:
        """Whether restarting `job` for faults on `nodes` stays within the limits; an allowed
        restart is counted at once (the caller is about to carry it out).

        `opted_in` are the opted-in jobs now (a restarted job since deleted no longer counts: it
        has nothing left to lose), `cluster_nodes` the nodes now (a node acted on since deleted
        still counts, on both sides of the share)."""
        self._forget_before(now - self.settings.window_seconds)
        wanted = frozenset(nodes)
        jobs = {a.job for a in self._actions if a.job in opted_in} | {job}
        touched = set().union(*(a.nodes for a in self._actions)) | wanted
        opted_in_jobs = len(set(opted_in) | {job})
        all_nodes = len(set(cluster_nodes) | touched)
        job_limit = allowance(self.settings.max_job_percent, opted_in_jobs, self.settings.min_jobs)
        node_limit = allowance(self.settings.max_node_percent, all_nodes, self.settings.min_nodes)
        window = f"{self.settings.window_seconds:g}s"
        if len(jobs) > job_limit:
            return self._refused(
                "jobs",
                f"it would make {len(jobs)} of {opted_in_jobs} opted-in jobs restarted within {window}, "
                f"above the limit of {job_limit} (maxJobPercent {self.settings.max_job_percent})")
        if len(touched) > node_limit:
            return self._refused(
                "nodes",
                f"it would act on faults of {len(touched)} of {all_nodes} nodes within {window}, "
                f"above the limit of {node_limit} (maxNodePercent {self.settings.max_node_percent}): "
                "so many faulty nodes at once more likely means a broken health signal than broken "
                "hardware")
        self._actions.append(_Action(now, job, wanted))
        return Admission(True)

    def _refused(self, limit: str, why: str) -> Admission:
        oldest = min((a.at for a in self._actions), default=None)
        retry_at = None if oldest is None else oldest + self.settings.window_seconds
        return Admission(False, f"auto-restart paused: {why}", limit, retry_at)

    def _forget_before(self, cutoff: float) -> None:
        self._actions = [a for a in self._actions if a.at > cutoff]


def allowance(percent: int, total: int, floor: int) -> int:
    """How many of `total` a percentage allows (rounded down), never fewer than `floor`."""
    return max(floor, total * percent // 100)
