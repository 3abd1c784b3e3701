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

from hyperpod_deps.autorestart.actions import POD, Actor
from hyperpod_deps.autorestart.guard import BlastRadiusGuard
from hyperpod_deps.autorestart.index import ClusterIndex, JobKey
from hyperpod_deps.autorestart.jobkinds import BY_KIND, JOB_NAME_LABEL, controller_uid
from hyperpod_deps.autorestart.metrics import Metrics
from hyperpod_deps.autorestart.reconcile import Reconciler
from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.autorestart.watchers import Changed, Listed, Update, watch
from hyperpod_deps.core.jsonlog import log
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import KubeError
from hyperpod_deps.kube.informer import Query

PODS, NODES = "pods", "nodes"
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
        self._kinds = settings.handled_kinds()
        self._kube = kube_factory()
        actor = Actor(self._kube, metrics, logger, identity, may_act, wall)
        self._index = ClusterIndex(frozenset(settings.triggers.pod_signals))
        self._reconciler = Reconciler(
            self._index, actor, settings.policy(), metrics, logger, wall, self._schedule,
            BlastRadiusGuard(settings.blast_radius.guard()),
        )
        self._updates: queue.Queue[Update] = queue.Queue()
        self._stop = threading.Event()
        self._listed: set[str] = set()
        self._dirty: set[JobKey] = set()
        self._timers: list[tuple[float, JobKey]] = []
        self._next_resync = wall() + settings.resync_seconds
        self._owners_tried: set[str] = set()
        self._nodes_watched = False

    def start(self) -> None:
        # Discovery before any thread acts: the client's discovery cache is not thread-safe.
        for kind in self._kinds:
            self._kube.resource_type(BY_KIND[kind].api_version, kind)
        for api_version, kind in ((POD.api_version, POD.kind), ("events.k8s.io/v1", "Event")):
            self._kube.resource_type(api_version, kind)
        for kind in self._kinds:
            job_kind = BY_KIND[kind]
            self._watch(kind, Query(job_kind.api_version, kind))
        self._watch(PODS, Query("v1", "Pod", label_selector=JOB_NAME_LABEL))

    def close(self) -> None:
        self._stop.set()
        self._reconciler.close()
        self._kube.close()

    def step(self, max_wait: float) -> None:
        self._drain(max_wait)
        if PODS in self._listed and not self._nodes_watched:
            self._nodes_watched = True
            self._watch(NODES, Query("v1", "Node"))
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
        self._reconciler.reconcile(dirty)
        counts = Counter(key[0] for key in self._index.jobs)
        for kind in self._kinds:
            self._metrics.jobs.labels(kind).set(counts.get(kind, 0))

    def _schedule(self, at: float, key: JobKey) -> None:
        heapq.heappush(self._timers, (at, key))

    def _watch(self, resource: str, query: Query) -> None:
        watch(
            resource,
            query,
            self._connect,
            self._updates,
            self._stop,
            self._settings.watch_timeout_seconds,
            self._logger,
            lambda error: self._metrics.errors.labels(f"watch {resource}").inc(),
        )

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
