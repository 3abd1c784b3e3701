"""One leadership term: watch jobs, pods and nodes; look again at the jobs each change concerns.

Nothing is decided before every watched type has been listed once (a half-filled index could
mistake a pod's node for deleted), and the nodes are listed after the pods for the same reason.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable

from hyperpod_deps.autorestart import record as records
from hyperpod_deps.autorestart import validation
from hyperpod_deps.autorestart.actions import Actor, Conflict, now_text
from hyperpod_deps.autorestart.index import DELETED, ClusterIndex, JobKey, job_view
from hyperpod_deps.autorestart.jobkinds import BY_KIND, JOB_NAME_LABEL, controller_uid
from hyperpod_deps.autorestart.logs import log
from hyperpod_deps.autorestart.metrics import Metrics
from hyperpod_deps.autorestart.policy import Verdict, decide
from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.autorestart.watchers import Changed, Listed, Update, Watcher, WatchSpec
from hyperpod_deps.kube.client import Kube, Manifest
from hyperpod_deps.kube.errors import KubeError
from hyperpod_deps.kube.events import WARNING

PODS, NODES = "pods", "nodes"
RETRY_SECONDS = 5.0
DRAIN_LIMIT = 5000  # updates applied before the jobs they touch are looked at


class Term:
    def __init__(
        self,
        kube_factory: Callable[[], Kube],
        settings: ControllerSettings,
        may_act: Callable[[], bool],
        identity: str,
        metrics: Metrics,
        logger: logging.Logger,
        wall: Callable[[], float],
    ) -> None:
        self._connect, self._settings, self._metrics, self._logger, self._wall = (
            kube_factory,
            settings,
            metrics,
            logger,
            wall,
        )
        self._policy = settings.policy()
        self._kinds = settings.handled_kinds()
        self._kube = kube_factory()
        self._actor = Actor(self._kube, metrics, logger, identity, may_act, wall)
        self._index = ClusterIndex(frozenset(settings.triggers.pod_signals))
        self._updates: queue.Queue[Update] = queue.Queue()
        self._stop = threading.Event()
        self._listed: set[str] = set()
        self._dirty: set[JobKey] = set()
        self._timers: list[tuple[float, JobKey]] = []
        self._next_resync = wall() + settings.resync_seconds
        self._reported: dict[str, str] = {}  # job uid -> the problems last reported for it
        self._owners_tried: set[str] = set()
        self._nodes_watched = False

    def start(self) -> None:
        for kind in self._kinds:
            job_kind = BY_KIND[kind]
            self._watch(WatchSpec(kind, job_kind.api_version, kind))
        self._watch(WatchSpec(PODS, "v1", "Pod", label_selector=JOB_NAME_LABEL))

    def close(self) -> None:
        self._stop.set()
        self._kube.close()

    def step(self, max_wait: float) -> None:
        self._drain(max_wait)
        if PODS in self._listed and not self._nodes_watched:
            self._nodes_watched = True
            self._watch(WatchSpec(NODES, "v1", "Node"))
        if not self._synced():
            return
        self._resolve_owners()
        now = self._wall()
        while self._timers and self._timers[0][0] <= now:
            self._dirty.add(heapq.heappop(self._timers)[1])
        if now >= self._next_resync:
            self._dirty |= set(self._index.jobs)
            self._next_resync = now + self._settings.resync_seconds
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):
            self._reconcile(key)
        counts = Counter(key[0] for key in self._index.jobs)
        for kind in self._kinds:
            self._metrics.jobs.labels(kind).set(counts.get(kind, 0))

    def _watch(self, spec: WatchSpec) -> None:
        Watcher(
            spec,
            self._connect,
            self._updates,
            self._stop,
            self._settings.watch_timeout_seconds,
            self._logger,
            lambda operation: self._metrics.errors.labels(operation).inc(),
        ).start()

    def _synced(self) -> bool:
        return {*self._kinds, PODS, NODES} <= self._listed

    def _drain(self, max_wait: float) -> None:
        try:
            update = self._updates.get(timeout=max_wait)
        except queue.Empty:
            return
        for _ in range(DRAIN_LIMIT):
            self._apply(update)
            try:
                update = self._updates.get_nowait()
            except queue.Empty:
                return

    def _apply(self, update: Update) -> None:
        now = self._wall()
        if isinstance(update, Listed):
            self._listed.add(update.resource)
            if update.resource == PODS:
                self._dirty |= self._index.resync_pods(update.items, now)
            elif update.resource == NODES:
                self._dirty |= self._index.resync_nodes(update.items, now)
            else:
                self._dirty |= self._index.resync_jobs(update.resource, update.items)
            return
        assert isinstance(update, Changed)
        if update.resource == PODS:
            self._dirty |= self._index.change_pod(update.type, update.object, now)
        elif update.resource == NODES:
            self._dirty |= self._index.change_node(update.type, update.object, now)
        else:
            self._dirty |= self._index.change_job(update.type, update.object)

    def _resolve_owners(self) -> None:
        """Trace the MPI launcher's batch Job to its MPIJob, once per Job."""
        for namespace, name, uid in self._index.unresolved_owners():
            if uid in self._owners_tried:
                continue
            self._owners_tried.add(uid)
            try:
                rtype = self._kube.resource_type("batch/v1", "Job")
                owner = self._kube.get(rtype, name, namespace) if rtype else None
            except KubeError as error:
                self._owners_tried.discard(uid)
                log(
                    self._logger,
                    logging.WARNING,
                    "could not read a launcher Job",
                    job=f"{namespace}/{name}",
                    error=str(error),
                )
                continue
            if owner is not None and owner["metadata"].get("uid") == uid and controller_uid(owner):
                self._dirty |= self._index.add_intermediate(uid, str(controller_uid(owner)))

    def _reconcile(self, key: JobKey) -> None:
        for _ in range(3):
            job = self._index.jobs.get(key)
            if job is None:
                return
            self._report_problems(job)
            now = self._wall()
            decision = decide(
                job_view(job),
                [p.view() for p in self._index.pods_of(key)],
                self._index.faults_of(key),
                records.parse(_annotations(job)),
                self._policy,
                now,
                now_text(now),
            )
            if decision.verdict is Verdict.IGNORE:
                self._ignored(key, decision.reason, decision.recheck_at)
                return
            try:
                written = self._actor.carry_out(job, decision)
            except Conflict:
                fresh = self._actor.refresh(job)
                self._index.change_job("MODIFIED" if fresh else DELETED, fresh or job)
                continue
            except KubeError as error:
                log(
                    self._logger,
                    logging.ERROR,
                    "acting on a job failed; trying again",
                    job=f"{key[1]}/{key[2]}",
                    verdict=str(decision.verdict),
                    error=str(error),
                )
                heapq.heappush(self._timers, (now + RETRY_SECONDS, key))
                return
            if written is not None:
                self._index.change_job("MODIFIED", written)
            return

    def _ignored(self, key: JobKey, reason: str, recheck_at: float | None) -> None:
        if recheck_at is not None:
            heapq.heappush(self._timers, (recheck_at, key))
        faults = self._index.faults_of(key)
        if faults:  # a job with no fault under it is the usual case, not worth a line
            log(
                self._logger,
                logging.DEBUG,
                "not restarting",
                job=f"{key[1]}/{key[2]}",
                kind=key[0],
                reason=reason,
                faults=[f.key for f in faults],
            )

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
        shown = errors or problems
        note = "; ".join(f"{p.field}: {p.message}. {p.fix}" for p in shown)
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


def _annotations(job: Manifest) -> dict[str, object]:
    annotations: dict[str, object] = (job.get("metadata") or {}).get("annotations") or {}
    return annotations
