"""What to do about one job, given the faults under it: the controller's whole judgement, pure.

`decide` sees the job, its pods, the faults on the nodes those pods are on, the restart record
kept on the job, and the clock; it returns one Decision. The runner only carries it out.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from hyperpod_deps.autorestart.faults import Fault, Trigger
from hyperpod_deps.autorestart.record import InProgress, PodRef, RestartRecord

HYPERPOD = "hyperpod"
GENERIC = "generic"
# Left to HyperPod's managed auto-resume on the hyperpod platform, unless the chart says otherwise.
MANAGED_KIND = "PyTorchJob"
FORCE_TRIGGERS = frozenset({Trigger.NOT_READY, Trigger.NODE_DELETED})


class Verdict(enum.StrEnum):
    RESTART = "restart"
    RESUME = "resume-unfinished-restart"
    EXHAUSTED = "exhausted"
    IGNORE = "ignore"


@dataclass(frozen=True)
class JobView:
    kind: str
    namespace: str
    name: str
    uid: str
    opted_in: bool
    max_retries: int | None  # None: the annotation is malformed
    blocking: tuple[str, ...] = ()  # validation errors: the job cannot be resumed as written
    finished: bool = False


@dataclass(frozen=True)
class PodView:
    uid: str
    name: str
    node: str | None
    deleting: bool = False
    terminal: bool = False  # Succeeded or Failed


@dataclass(frozen=True)
class PolicySettings:
    platform: str = GENERIC
    handle_pytorch_on_hyperpod: bool = False
    triggers: frozenset[Trigger] = frozenset(Trigger)
    not_ready_grace_seconds: float = 60.0


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    faults: tuple[Fault, ...] = ()
    pods: tuple[PodRef, ...] = ()
    record: RestartRecord | None = None  # what to write on the job (restart, exhausted)
    resume: InProgress | None = None
    recheck_at: float | None = field(default=None)  # a fault ripens then (not-ready grace)


def ignore(reason: str, recheck_at: float | None = None) -> Decision:
    return Decision(Verdict.IGNORE, reason, recheck_at=recheck_at)


def left_to_hyperpod(kind: str, settings: PolicySettings) -> bool:
    return settings.platform == HYPERPOD and kind == MANAGED_KIND and not settings.handle_pytorch_on_hyperpod


def decide(
    job: JobView,
    pods: Sequence[PodView],
    faults: Sequence[Fault],
    record: RestartRecord,
    settings: PolicySettings,
    now: float,
    at: str = "",
) -> Decision:
    """`now` is epoch seconds (fault times are wall-clock times from the API); `at` its RFC 3339
    form, written into the record."""
    if not job.opted_in:
        return ignore("the job has not opted in")
    if left_to_hyperpod(job.kind, settings):
        return ignore("PyTorchJobs are left to HyperPod's managed auto-resume on this platform")
    if record.in_progress is not None:
        return Decision(
            Verdict.RESUME,
            "a restart was interrupted; finishing it without counting it again",
            resume=record.in_progress,
        )
    if job.blocking:
        return ignore("the job cannot be resumed as written: " + "; ".join(job.blocking))
    if job.finished:
        return ignore("the job has finished")
    live = [p for p in pods if not p.deleting and not p.terminal and p.uid not in record.brought_down]
    ripe, recheck_at = _faults_under(live, faults, record, settings, now)
    if not ripe:
        return ignore("no fault under the job's pods", recheck_at)
    budget = job.max_retries if job.max_retries is not None else 0
    keys = tuple(f.key for f in ripe)
    if record.count >= budget:
        if record.exhausted:
            return ignore(f"the retry budget ({budget}) is spent")
        return Decision(
            Verdict.EXHAUSTED,
            f"the retry budget ({budget}) is spent",
            faults=tuple(ripe),
            record=record.exhausting(keys),
        )
    forced = {f.node for f in faults if f.trigger in FORCE_TRIGGERS}
    down = tuple(PodRef(p.uid, p.name, force=p.node in forced) for p in live)
    return Decision(
        Verdict.RESTART,
        f"restart {record.count + 1} of {budget}",
        faults=tuple(ripe),
        pods=down,
        record=record.starting(keys, down, at),
    )


def _faults_under(
    live: Sequence[PodView],
    faults: Sequence[Fault],
    record: RestartRecord,
    settings: PolicySettings,
    now: float,
) -> tuple[list[Fault], float | None]:
    """The ripe, unhandled faults with a live pod of the job under them, and when the next
    unripe one ripens."""
    nodes = {p.node for p in live if p.node}
    uids = {p.uid for p in live}
    ripe: list[Fault] = []
    pending: list[float] = []
    for fault in faults:
        if fault.trigger not in settings.triggers or fault.key in record.handled:
            continue
        under = fault.pod_uid in uids if fault.pod_uid else fault.node in nodes
        if not under:
            continue
        ripens = fault.started + (
            settings.not_ready_grace_seconds if fault.trigger is Trigger.NOT_READY else 0
        )
        if ripens <= now:
            ripe.append(fault)
        else:
            pending.append(ripens)
    return ripe, min(pending, default=None)
