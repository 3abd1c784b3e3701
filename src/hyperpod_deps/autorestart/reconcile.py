"""Looking again at a batch of jobs: decide for each (pure), then act on those that need it.

Jobs are independent of one another, so their restarts run side by side (a burst of node faults
restarts dozens of jobs, each a handful of API calls); the index is only touched here, on the
controller's own thread. A compare-and-swap conflict means the job changed under us: it is read
again and decided again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from hyperpod_deps.autorestart import record as records
from hyperpod_deps.autorestart import validation
from hyperpod_deps.autorestart.actions import Actor, Conflict, now_text, summary
from hyperpod_deps.autorestart.guard import BlastRadiusGuard
from hyperpod_deps.autorestart.index import DELETED, ClusterIndex, JobKey, job_view
from hyperpod_deps.autorestart.metrics import Metrics
from hyperpod_deps.autorestart.policy import Decision, PolicySettings, Verdict, decide
from hyperpod_deps.core.jsonlog import log
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.errors import KubeError
from hyperpod_deps.kube.events import WARNING

# Restarts in flight at once: enough to absorb a burst, few enough not to flood the API server.
ACTION_WORKERS = 8
ATTEMPTS = 3
RETRY_SECONDS = 5.0

Schedule = Callable[[float, JobKey], None]


class Reconciler:
    def __init__(
        self,
        index: ClusterIndex,
        actor: Actor,
        policy: PolicySettings,
        metrics: Metrics,
        logger: logging.Logger,
        wall: Callable[[], float],
        schedule: Schedule,
        guard: BlastRadiusGuard,
    ) -> None:
        self._index, self._actor, self._policy, self._metrics = index, actor, policy, metrics
        self._logger, self._wall, self._schedule, self._guard = logger, wall, schedule, guard
        self._paused: dict[str, str] = {}  # job uid -> the guard's last reason for holding it
        self._pool = ThreadPoolExecutor(max_workers=ACTION_WORKERS, thread_name_prefix="restart")
        self._reported: dict[str, str] = {}  # job uid -> the problems last reported for it

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def reconcile(self, keys: Iterable[JobKey]) -> None:
        pending = {key: decision for key in sorted(keys)
                   if (decision := self._decide(key)) is not None and self._admitted(key, decision)}
        for _ in range(ATTEMPTS):
            if not pending:
                return
            running: dict[JobKey, tuple[Manifest, Future[Manifest | None]]] = {}
            for key, decision in pending.items():
                job = self._index.jobs[key]
                running[key] = (job, self._pool.submit(self._actor.carry_out, job, decision))
            pending = {}
            for key, (job, future) in running.items():
                if (self._finished(key, job, future) and (decision := self._decide(key)) is not None
                        and self._admitted(key, decision)):
                    pending[key] = decision

    def _admitted(self, key: JobKey, decision: Decision) -> bool:
        """A new restart must pass the blast-radius guard; finishing an interrupted one or
        recording a spent budget brings nothing new down. A held job gets one Event per reason."""
        if decision.verdict is not Verdict.RESTART:
            return True
        job = self._index.jobs[key]
        uid = str(job["metadata"].get("uid"))
        jobs = self._index.jobs.values()
        opted_in = {str(j["metadata"].get("uid")) for j in jobs if validation.opted_in(j)}
        admission = self._guard.admit(self._wall(), uid, {f.node for f in decision.faults}, opted_in,
                                      set(self._index.nodes))
        if admission.allowed:
            self._paused.pop(uid, None)
            return True
        self._metrics.paused.labels(admission.limit).inc()
        if admission.retry_at is not None:
            self._schedule(admission.retry_at, key)
        if self._paused.get(uid) != admission.reason:
            self._paused[uid] = admission.reason
            log(self._logger, logging.WARNING, "not restarting: blast-radius limit",
                job=f"{key[1]}/{key[2]}", kind=key[0], reason=admission.reason)
            self._actor.report(
                job, WARNING, "AutoRestartPaused",
                f"Not restarted after {summary(decision.faults)}: {admission.reason}. It is restarted "
                "when earlier restarts leave the window, if the fault is still there; the limits are "
                "job-auto-restart.controller.blastRadius in the chart's values.")
        return False

    def _finished(self, key: JobKey, job: Manifest, future: Future[Manifest | None]) -> bool:
        """Record the outcome; True when the job must be decided again (it changed under us)."""
        try:
            written = future.result()  # NotLeader passes through: the term ends
        except Conflict:
            fresh = self._actor.refresh(job)
            if fresh is None:
                self._index.change_job(DELETED, job)
            else:
                self._index.own_write(fresh)  # read after the watch's events: newer than they are
            return fresh is not None
        except KubeError as error:
            log(
                self._logger,
                logging.ERROR,
                "acting on a job failed; trying again",
                job=f"{key[1]}/{key[2]}",
                error=str(error),
                retry_in_seconds=RETRY_SECONDS,
            )
            self._schedule(self._wall() + RETRY_SECONDS, key)
            return False
        if written is not None:
            self._index.own_write(written)
        return False

    def _decide(self, key: JobKey) -> Decision | None:
        """The decision when it calls for an action; None when the job is left as it is."""
        job = self._index.jobs.get(key)
        if job is None:
            return None
        self._report_problems(job)
        now = self._wall()
        annotations = (job.get("metadata") or {}).get("annotations") or {}
        decision = decide(
            job_view(job),
            [p.view() for p in self._index.pods_of(key)],
            self._index.faults_of(key),
            records.parse(annotations),
            self._policy,
            now,
            now_text(now),
        )
        if decision.verdict is not Verdict.IGNORE:
            return decision
        if decision.recheck_at is not None:
            self._schedule(decision.recheck_at, key)
        faults = self._index.faults_of(key)
        if faults:  # a job with no fault under it is the usual case, not worth a line
            log(
                self._logger,
                logging.DEBUG,
                "not restarting",
                job=f"{key[1]}/{key[2]}",
                kind=key[0],
                reason=decision.reason,
                faults=[f.key for f in faults],
            )
        return None

    def _report_problems(self, job: Manifest) -> None:
        """An opted-in job that cannot be resumed as written gets one Event saying what to change
        (again only when the problems change)."""
        if not validation.opted_in(job):
            return
        problems = [p for p in validation.check(job) if p.severity is not validation.Severity.INFO]
        uid, digest = str(job["metadata"].get("uid")), "\n".join(map(str, problems))
        if self._reported.get(uid) == digest:
            return
        self._reported[uid] = digest
        if not problems:
            return
        errors = validation.blocking(problems)
        note = "; ".join(f"{p.field}: {p.message}. {p.fix}" for p in errors or problems)
        if errors:
            self._metrics.not_resumable.labels(str(job.get("kind"))).inc()
            self._actor.report(
                job,
                WARNING,
                "AutoRestartNotPossible",
                f"Auto-resume is requested but will not happen until this is changed: {note}",
            )
        else:
            self._actor.report(job, WARNING, "AutoRestartAdvice", f"Auto-resume is on; consider: {note}")
