"""decide(): fault x job state x budget -> action, with a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from hyperpod_deps.autorestart.faults import Fault, Trigger
from hyperpod_deps.autorestart.policy import (
    HYPERPOD,
    Decision,
    JobView,
    PodView,
    PolicySettings,
    Verdict,
    decide,
)
from hyperpod_deps.autorestart.record import InProgress, PodRef, RestartRecord

NOW = 1_000_000.0
JOB = JobView("PyTorchJob", "team", "train", "job-uid", opted_in=True, max_retries=2)
MPI = replace(JOB, kind="MPIJob")
PODS = (PodView("p0", "train-worker-0", "node-a"), PodView("p1", "train-worker-1", "node-b"))
GENERIC = PolicySettings()
FRESH = RestartRecord()


def fault(
    trigger: Trigger = Trigger.UNSCHEDULABLE,
    node: str = "node-a",
    started: float = NOW - 1,
    since: str = "rv10",
    pod_uid: str | None = None,
) -> Fault:
    return Fault(trigger, node, f"uid-{node}", since, "test", started, pod_uid)


@dataclass(frozen=True)
class Case:
    name: str
    verdict: Verdict
    job: JobView = JOB
    pods: tuple[PodView, ...] = PODS
    faults: tuple[Fault, ...] = (fault(),)
    record: RestartRecord = FRESH
    settings: PolicySettings = GENERIC
    reason: str = ""


CASES = [
    Case("unschedulable node under a worker restarts the job", Verdict.RESTART, reason="restart 1 of 2"),
    Case(
        "second restart within budget",
        Verdict.RESTART,
        record=RestartRecord(count=1),
        reason="restart 2 of 2",
    ),
    Case("budget spent: exhausted once", Verdict.EXHAUSTED, record=RestartRecord(count=2)),
    Case(
        "budget spent and already reported: ignored",
        Verdict.IGNORE,
        record=RestartRecord(count=2, exhausted=True),
        reason="budget (2) is spent",
    ),
    Case(
        "budget raised after exhaustion: restarts again",
        Verdict.RESTART,
        job=replace(JOB, max_retries=3),
        record=RestartRecord(count=2, exhausted=True),
    ),
    Case("budget 0: exhausted at the first fault", Verdict.EXHAUSTED, job=replace(JOB, max_retries=0)),
    Case("malformed budget counts as 0", Verdict.EXHAUSTED, job=replace(JOB, max_retries=None)),
    Case("not opted in", Verdict.IGNORE, job=replace(JOB, opted_in=False), reason="not opted in"),
    Case(
        "invalid job is left alone",
        Verdict.IGNORE,
        job=replace(JOB, blocking=("restartPolicy is Never",)),
        reason="restartPolicy is Never",
    ),
    Case("finished job", Verdict.IGNORE, job=replace(JOB, finished=True), reason="finished"),
    Case(
        "fault on a node without the job's pods",
        Verdict.IGNORE,
        faults=(fault(node="node-z"),),
        reason="no fault",
    ),
    Case("no faults", Verdict.IGNORE, faults=()),
    Case("pods not scheduled yet", Verdict.IGNORE, pods=(PodView("p0", "w0", None),)),
    Case("pod already being deleted", Verdict.IGNORE, pods=(PodView("p0", "w0", "node-a", deleting=True),)),
    Case("pod finished", Verdict.IGNORE, pods=(PodView("p0", "w0", "node-a", terminal=True),)),
    Case(
        "pod brought down by an earlier restart (cache lag)",
        Verdict.IGNORE,
        record=RestartRecord(count=1, brought_down=("p0",)),
    ),
    Case("fault already handled", Verdict.IGNORE, record=RestartRecord(count=1, handled=(fault().key,))),
    Case(
        "same node, new episode",
        Verdict.RESTART,
        faults=(fault(since="rv99"),),
        record=RestartRecord(count=1, handled=(fault().key,)),
    ),
    Case("node deleted under a worker", Verdict.RESTART, faults=(fault(Trigger.NODE_DELETED, "node-b"),)),
    Case(
        "not ready for less than the grace",
        Verdict.IGNORE,
        faults=(fault(Trigger.NOT_READY, started=NOW - 59),),
    ),
    Case("not ready past the grace", Verdict.RESTART, faults=(fault(Trigger.NOT_READY, started=NOW - 60),)),
    Case(
        "trigger turned off",
        Verdict.IGNORE,
        settings=PolicySettings(triggers=frozenset({Trigger.NOT_READY, Trigger.NODE_DELETED})),
    ),
    Case("pod signal on a live pod", Verdict.RESTART, faults=(fault(Trigger.POD_SIGNAL, pod_uid="p1"),)),
    Case("pod signal on another job's pod", Verdict.IGNORE, faults=(fault(Trigger.POD_SIGNAL, pod_uid="x"),)),
    Case(
        "hyperpod platform leaves PyTorchJobs to HyperPod",
        Verdict.IGNORE,
        settings=PolicySettings(platform=HYPERPOD),
        reason="managed auto-resume",
    ),
    Case(
        "hyperpod platform handles MPIJobs",
        Verdict.RESTART,
        job=MPI,
        settings=PolicySettings(platform=HYPERPOD),
    ),
    Case(
        "hyperpod platform with the switch on handles PyTorchJobs",
        Verdict.RESTART,
        settings=PolicySettings(platform=HYPERPOD, handle_pytorch_on_hyperpod=True),
    ),
    Case(
        "interrupted restart is resumed, even for a finished job",
        Verdict.RESUME,
        job=replace(JOB, finished=True),
        record=RestartRecord(count=1, in_progress=InProgress(1, ("k",), (PodRef("p0", "w0"),), "t")),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Case) -> None:
    decision = decide(
        case.job, case.pods, case.faults, case.record, case.settings, NOW, "2026-01-01T00:00:00Z"
    )
    assert decision.verdict is case.verdict, decision.reason
    assert case.reason in decision.reason


def restart(**changes: object) -> Decision:
    case = replace(Case("", Verdict.RESTART), **changes)  # type: ignore[arg-type]
    return decide(case.job, case.pods, case.faults, case.record, case.settings, NOW, "2026-01-01T00:00:00Z")


def test_a_restart_brings_every_pod_down_and_counts_once_before_deleting() -> None:
    decision = restart(
        pods=(*PODS, PodView("p2", "pending", None), PodView("p3", "gone", "node-b", deleting=True))
    )
    assert [p.uid for p in decision.pods] == ["p0", "p1", "p2"]
    assert decision.record is not None
    assert decision.record.count == 1
    assert decision.record.in_progress is not None
    assert decision.record.in_progress.count == 1
    assert set(decision.record.brought_down) == {"p0", "p1", "p2"}
    assert decision.record.handled == (fault().key,)


def test_several_faults_of_one_job_make_one_restart() -> None:
    both = (fault(), fault(node="node-b"), fault(Trigger.NOT_READY, started=NOW - 600))
    decision = restart(faults=both)
    assert decision.verdict is Verdict.RESTART
    assert len(decision.faults) == 3
    assert decision.record is not None and decision.record.count == 1
    # The same faults seen again once the record is written: nothing more to do.
    again = decide(JOB, PODS, both, decision.record.finished(), GENERIC, NOW + 1)
    assert again.verdict is Verdict.IGNORE


def test_pods_on_not_ready_or_deleted_nodes_are_deleted_by_force() -> None:
    decision = restart(faults=(fault(), fault(Trigger.NODE_DELETED, "node-b")))
    assert {p.uid: p.force for p in decision.pods} == {"p0": False, "p1": True}


def test_the_not_ready_grace_gives_a_time_to_look_again() -> None:
    decision = restart(faults=(fault(Trigger.NOT_READY, started=NOW - 10),))
    assert decision.verdict is Verdict.IGNORE
    assert decision.recheck_at == NOW + 50
    later = decide(
        JOB, PODS, (fault(Trigger.NOT_READY, started=NOW - 10),), RestartRecord(), GENERIC, NOW + 50
    )
    assert later.verdict is Verdict.RESTART


def test_exhaustion_is_recorded_so_it_is_reported_once() -> None:
    decision = restart(record=RestartRecord(count=2))
    assert decision.verdict is Verdict.EXHAUSTED
    assert decision.record is not None and decision.record.exhausted
    assert decide(JOB, PODS, (fault(),), decision.record, GENERIC, NOW).verdict is Verdict.IGNORE
