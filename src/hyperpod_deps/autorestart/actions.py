"""Carrying out a Decision on the cluster: the record first, then the pods, then the Events.

The order is what makes a restart safe across controller crashes and leader changes: the record
(count + in-progress entry) is written with compare-and-swap on the job's resourceVersion before
any pod is deleted, so a second writer deciding on the same fault from a stale view fails, and a
new leader finds the unfinished restart and completes it without counting it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from hyperpod_deps.autorestart import record as records
from hyperpod_deps.autorestart.faults import Fault
from hyperpod_deps.autorestart.metrics import Metrics
from hyperpod_deps.autorestart.policy import Decision, Verdict
from hyperpod_deps.autorestart.record import InProgress, RestartRecord
from hyperpod_deps.core import wire
from hyperpod_deps.core.jsonlog import log
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import KubeError, RequestFailed
from hyperpod_deps.kube.events import NORMAL, WARNING, record_event

CONTROLLER = "hyperpod-deps/job-auto-restart"
POD = ResourceType("v1", "Pod", "pods", True)


class NotLeader(RuntimeError):
    """The Lease was lost: stop before the next write."""


class Conflict(RuntimeError):
    """The job changed since it was read: read it again and decide again."""


class Actor:
    def __init__(
        self,
        kube: Kube,
        metrics: Metrics,
        logger: logging.Logger,
        identity: str,
        may_act: Callable[[], bool],
        wall: Callable[[], float],
    ) -> None:
        self._kube, self._metrics, self._logger, self._identity = kube, metrics, logger, identity
        self._may_act, self._wall = may_act, wall

    def carry_out(self, job: Manifest, decision: Decision) -> Manifest | None:
        """Returns the job as last written (None when nothing was written)."""
        if decision.verdict is Verdict.RESTART:
            return self._restart(job, decision)
        if decision.verdict is Verdict.RESUME:
            return self._resume(job, decision)
        if decision.verdict is Verdict.EXHAUSTED:
            return self._exhaust(job, decision)
        return None

    def report(self, job: Manifest, event_type: str, reason: str, note: str) -> None:
        self._event(job, event_type, reason, note, "Check")

    def _restart(self, job: Manifest, decision: Decision) -> Manifest:
        assert decision.record is not None and decision.record.in_progress is not None
        progress = decision.record.in_progress
        written = self._write(
            job,
            decision.record,
            f"Restarting: restart {progress.count} at {progress.started_at} after {summary(decision.faults)}",
        )
        log(
            self._logger,
            logging.INFO,
            "restarting job",
            **_job_fields(job),
            restart=progress.count,
            faults=[f.key for f in decision.faults],
            pods=[p.name for p in progress.pods],
        )
        self._bring_down(job, progress)
        kind = str(job.get("kind"))
        self._metrics.restarts.labels(kind, decision.faults[0].trigger.value).inc()
        self._metrics.latency.labels(kind).observe(
            max(0.0, self._wall() - min(f.started for f in decision.faults))
        )
        self._event(
            job,
            NORMAL,
            "AutoRestart",
            f"{decision.reason.capitalize()} after {summary(decision.faults)}: "
            f"deleted its {len(progress.pods)} pod(s) so the operator recreates them on healthy nodes.",
            "Restart",
        )
        return self._finish(written, progress)

    def _resume(self, job: Manifest, decision: Decision) -> Manifest:
        assert decision.resume is not None
        log(
            self._logger,
            logging.INFO,
            "finishing an interrupted restart",
            **_job_fields(job),
            restart=decision.resume.count,
            pods=[p.name for p in decision.resume.pods],
        )
        self._bring_down(job, decision.resume)
        self._event(
            job,
            NORMAL,
            "AutoRestartResumed",
            f"Finished restart {decision.resume.count}, which was "
            "interrupted (controller restart or leader change); it is counted once.",
            "Restart",
        )
        return self._finish(job, decision.resume)

    def _exhaust(self, job: Manifest, decision: Decision) -> Manifest:
        assert decision.record is not None
        budget = _annotations(job).get(wire.MAX_RETRY_ANNOTATION, "the default")
        written = self._write(
            job,
            decision.record,
            f"Exhausted: {decision.record.count} restart(s) used of "
            f"{budget}; not restarted after {summary(decision.faults)}",
        )
        self._metrics.exhausted.labels(str(job.get("kind"))).inc()
        log(
            self._logger,
            logging.WARNING,
            "retry budget spent; not restarting",
            **_job_fields(job),
            faults=[f.key for f in decision.faults],
        )
        self._event(
            job,
            WARNING,
            "AutoRestartBudgetExhausted",
            f"Not restarted after {summary(decision.faults)}: {decision.reason}. Raise "
            f"{wire.MAX_RETRY_ANNOTATION} to allow more restarts (the job keeps running on the faulty "
            "node's pods until then).",
            "Restart",
        )
        return written

    def _finish(self, job: Manifest, progress: InProgress) -> Manifest:
        """Clear the in-progress entry; the job may have changed meanwhile (status), so re-read on
        conflict, and only clear the entry this restart wrote."""
        current = job
        for _ in range(5):
            stored = records.parse(_annotations(current))
            if stored.in_progress != progress:
                return current
            status = f"Restarted {stored.count} time(s); last at {progress.started_at}"
            try:
                return self._write(current, stored.finished(), status)
            except Conflict:
                fresh = self._get(current)
                if fresh is None:
                    return current
                current = fresh
        return current

    def _bring_down(self, job: Manifest, progress: InProgress) -> None:
        namespace = str(job["metadata"]["namespace"])
        for pod in progress.pods:
            self._check_leader()
            try:
                self._kube.delete(
                    POD, pod.name, namespace, uid=pod.uid, grace_period_seconds=0 if pod.force else None
                )
            except KubeError:
                self._metrics.errors.labels("delete pod").inc()
                raise

    def _write(self, job: Manifest, record: RestartRecord, status: str) -> Manifest:
        self._check_leader()
        metadata = job["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": metadata["resourceVersion"],
                "annotations": records.to_annotations(record, status),
            }
        }
        try:
            return self._kube.merge_patch(self._job_type(job), metadata["name"], metadata["namespace"], patch)
        except RequestFailed as error:
            if error.status == 409:
                raise Conflict(str(error)) from error
            self._metrics.errors.labels("patch job").inc()
            raise

    def _get(self, job: Manifest) -> Manifest | None:
        return self._kube.get(self._job_type(job), job["metadata"]["name"], job["metadata"]["namespace"])

    def refresh(self, job: Manifest) -> Manifest | None:
        return self._get(job)

    def _job_type(self, job: Manifest) -> ResourceType:
        rtype = self._kube.resource_type(str(job["apiVersion"]), str(job["kind"]))
        if rtype is None:
            raise RequestFailed(f"the server no longer serves {job['apiVersion']} {job['kind']}", 404)
        return rtype

    def _check_leader(self) -> None:
        if not self._may_act():
            raise NotLeader("the leader Lease was lost")

    def _event(self, job: Manifest, event_type: str, reason: str, note: str, action: str) -> None:
        try:
            record_event(
                self._kube,
                job,
                event_type,
                reason,
                note,
                controller=CONTROLLER,
                action=action,
                instance=self._identity,
            )
        except KubeError as error:
            # The restart itself is done and recorded on the job; a lost Event is only a lost note.
            self._metrics.errors.labels("create event").inc()
            log(
                self._logger,
                logging.WARNING,
                "could not record an event",
                **_job_fields(job),
                reason=reason,
                error=str(error),
            )


def summary(faults: Sequence[Fault]) -> str:
    parts = [f"{f.trigger.value} on node {f.node} ({f.detail})" for f in faults[:3]]
    more = f" and {len(faults) - 3} more" if len(faults) > 3 else ""
    return ", ".join(parts) + more


def now_text(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _annotations(job: Manifest) -> dict[str, Any]:
    annotations: dict[str, Any] = (job.get("metadata") or {}).get("annotations") or {}
    return annotations


def _job_fields(job: Manifest) -> dict[str, str]:
    metadata = job.get("metadata") or {}
    return {"job": f"{metadata.get('namespace')}/{metadata.get('name')}", "kind": str(job.get("kind"))}
