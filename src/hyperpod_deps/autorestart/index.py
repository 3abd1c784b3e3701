"""The controller's view of the cluster: jobs, their pods, nodes and the faults on them.

Fed from list+watch (whole lists after a (re)list, single changes after that); each update says
which jobs it may concern, and only those are looked at again. Pure: no I/O, the clock is passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hyperpod_deps.autorestart import validation
from hyperpod_deps.autorestart.faults import (
    Fault,
    NodeView,
    deleted_fault,
    node_faults,
    node_view,
    pod_signal_faults,
)
from hyperpod_deps.autorestart.jobkinds import JOB_NAME_LABEL, controller_ref, is_intermediate_owner
from hyperpod_deps.autorestart.policy import JobView, PodView
from hyperpod_deps.core.manifest import Manifest

JobKey = tuple[str, str, str]  # kind, namespace, name
DELETED = "DELETED"
FINISHED_CONDITIONS = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class PodInfo:
    uid: str
    namespace: str
    name: str
    job_name: str
    owner_uid: str
    owner_is_intermediate: bool  # the MPI launcher's batch Job
    owner_name: str
    node: str | None
    deleting: bool
    terminal: bool
    signal_faults: tuple[Fault, ...]

    def view(self) -> PodView:
        return PodView(self.uid, self.name, self.node, self.deleting, self.terminal)


def job_key(obj: Mapping[str, Any]) -> JobKey:
    metadata = obj.get("metadata") or {}
    return str(obj.get("kind", "")), str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def job_view(job: Mapping[str, Any]) -> JobView:
    kind, namespace, name = job_key(job)
    conditions = (job.get("status") or {}).get("conditions") or []
    finished = any(
        isinstance(c, Mapping) and c.get("type") in FINISHED_CONDITIONS and c.get("status") == "True"
        for c in conditions
    )
    return JobView(
        kind,
        namespace,
        name,
        str((job.get("metadata") or {}).get("uid", "")),
        opted_in=validation.opted_in(job),
        max_retries=validation.max_retry_count(job),
        blocking=tuple(str(p) for p in validation.blocking(validation.check(job))),
        finished=finished,
    )


class ClusterIndex:
    def __init__(self, signals: frozenset[int] = frozenset()) -> None:
        self._signals = signals
        self.jobs: dict[JobKey, Manifest] = {}
        self._job_by_uid: dict[str, JobKey] = {}
        self.pods: dict[str, PodInfo] = {}
        self._pods_by_job_name: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._pods_by_node: dict[str, set[str]] = defaultdict(set)
        self.nodes: dict[str, NodeView] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._deleted: dict[str, Fault] = {}
        self._intermediate: dict[str, str] = {}  # batch Job uid -> training job uid
        self._nodes_listed = False
        # Job uid -> resourceVersion of our own last write, until the watch delivers it. Watch
        # events arrive in order, so anything the watch sends before it is older than what we
        # hold: taking it would bring back, say, a restart record still marked in progress.
        self._awaited_writes: dict[str, str] = {}

    # Jobs ---------------------------------------------------------------------------------

    def resync_jobs(self, kind: str, items: Iterable[Manifest]) -> set[JobKey]:
        fresh = {job_key(item): item for item in items}
        for item in fresh.values():  # a new list is newer than any write we made before it
            self._awaited_writes.pop(_uid(item), None)
        for key in [k for k in self.jobs if k[0] == kind and k not in fresh]:
            self._forget_job(key)
        for item in fresh.values():
            self.change_job("ADDED", item)
        return set(fresh)

    def own_write(self, obj: Manifest) -> set[JobKey]:
        """The job as our own write left it: newer than anything the watch has sent so far."""
        self._awaited_writes[_uid(obj)] = str(obj["metadata"].get("resourceVersion", ""))
        return self._store_job(obj)

    def change_job(self, event: str, obj: Manifest) -> set[JobKey]:
        key = job_key(obj)
        if event == DELETED:
            self._awaited_writes.pop(_uid(obj), None)
            self._forget_job(key)
            return set()
        awaited = self._awaited_writes.get(_uid(obj))
        if awaited is not None:
            if str(obj["metadata"].get("resourceVersion", "")) != awaited:
                return set()  # from before our write: stale
            del self._awaited_writes[_uid(obj)]
        return self._store_job(obj)

    def _store_job(self, obj: Manifest) -> set[JobKey]:
        key = job_key(obj)
        self.jobs[key] = obj
        self._job_by_uid[str(obj["metadata"].get("uid", ""))] = key
        return {key}

    def _forget_job(self, key: JobKey) -> None:
        job = self.jobs.pop(key, None)
        if job is not None:
            self._job_by_uid.pop(str(job["metadata"].get("uid", "")), None)

    # Pods ---------------------------------------------------------------------------------

    def resync_pods(self, items: Iterable[Manifest], now: float) -> set[JobKey]:
        for uid in list(self.pods):
            self._forget_pod(uid)
        touched: set[JobKey] = set()
        for item in items:
            touched |= self.change_pod("ADDED", item, now)
        return touched

    def change_pod(self, event: str, obj: Manifest, now: float) -> set[JobKey]:
        uid = str(obj["metadata"].get("uid", ""))
        before = self.pods.get(uid)
        self._forget_pod(uid)
        if event != DELETED:
            self._remember_pod(_pod_info(obj, self._signals, now))
        info = self.pods.get(uid) or before
        key = self.job_of(info) if info is not None else None
        return {key} if key is not None else set()

    def _remember_pod(self, info: PodInfo) -> None:
        self.pods[info.uid] = info
        self._pods_by_job_name[(info.namespace, info.job_name)].add(info.uid)
        if info.node:
            self._pods_by_node[info.node].add(info.uid)

    def _forget_pod(self, uid: str) -> None:
        info = self.pods.pop(uid, None)
        if info is None:
            return
        self._pods_by_job_name[(info.namespace, info.job_name)].discard(uid)
        if info.node:
            self._pods_by_node[info.node].discard(uid)

    def job_of(self, pod: PodInfo) -> JobKey | None:
        owner = (
            self._intermediate.get(pod.owner_uid, pod.owner_uid)
            if pod.owner_is_intermediate
            else pod.owner_uid
        )
        return self._job_by_uid.get(owner)

    def unresolved_owners(self) -> set[tuple[str, str, str]]:
        """(namespace, name, uid) of the batch Jobs that own pods of jobs we know of, not yet traced
        to their training job (the MPI launcher)."""
        known = {(k[1], k[2]) for k in self.jobs}
        return {
            (p.namespace, p.owner_name, p.owner_uid)
            for p in self.pods.values()
            if p.owner_is_intermediate
            and p.owner_uid not in self._intermediate
            and (p.namespace, p.job_name) in known
        }

    def add_intermediate(self, owner_uid: str, job_uid: str) -> set[JobKey]:
        self._intermediate[owner_uid] = job_uid
        key = self._job_by_uid.get(job_uid)
        return {key} if key is not None else set()

    def pods_of(self, key: JobKey) -> list[PodInfo]:
        candidates = self._pods_by_job_name.get((key[1], key[2]), set())
        return [self.pods[uid] for uid in sorted(candidates) if self.job_of(self.pods[uid]) == key]

    # Nodes --------------------------------------------------------------------------------

    def resync_nodes(self, items: Iterable[Manifest], now: float) -> set[JobKey]:
        fresh = {str(item["metadata"]["name"]): item for item in items}
        gone = set(self.nodes) - set(fresh)
        if not self._nodes_listed:
            # Pods were listed before the nodes: a node they name that is missing was deleted.
            gone |= {p.node for p in self.pods.values() if p.node} - set(fresh)
            self._nodes_listed = True
        touched: set[JobKey] = set()
        for name in gone:
            uid = self.nodes[name].uid if name in self.nodes else ""
            touched |= self._node_deleted(name, uid, now)
        for item in fresh.values():
            touched |= self.change_node("ADDED", item, now)
        return touched

    def change_node(self, event: str, obj: Manifest, now: float) -> set[JobKey]:
        view = node_view(obj)
        if event == DELETED:
            return self._node_deleted(view.name, view.uid, now)
        self._deleted.pop(view.name, None)
        before = self._faults.get(view.name, [])
        after = node_faults(view, before, now)
        self.nodes[view.name] = view
        self._faults[view.name] = after
        if [f.key for f in before] == [f.key for f in after]:
            return set()
        return self._jobs_on(view.name)

    def _node_deleted(self, name: str, uid: str, now: float) -> set[JobKey]:
        self.nodes.pop(name, None)
        self._faults.pop(name, None)
        self._deleted.setdefault(name, deleted_fault(name, uid, now))
        return self._jobs_on(name)

    def _jobs_on(self, node: str) -> set[JobKey]:
        keys = (self.job_of(self.pods[uid]) for uid in self._pods_by_node.get(node, set()))
        return {k for k in keys if k is not None}

    def faults_of(self, key: JobKey) -> list[Fault]:
        pods = self.pods_of(key)
        found: list[Fault] = []
        for node in sorted({p.node for p in pods if p.node}):
            found += self._faults.get(node, [])
            if node in self._deleted:
                found.append(self._deleted[node])
        for pod in pods:
            found += pod.signal_faults
        return found


def _pod_info(pod: Manifest, signals: frozenset[int], now: float) -> PodInfo:
    metadata, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    owner = controller_ref(pod) or {}
    return PodInfo(
        uid=str(metadata.get("uid", "")),
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        job_name=str((metadata.get("labels") or {}).get(JOB_NAME_LABEL, "")),
        owner_uid=str(owner.get("uid", "")),
        owner_is_intermediate=is_intermediate_owner(owner),
        owner_name=str(owner.get("name", "")),
        node=spec.get("nodeName") or None,
        deleting=bool(metadata.get("deletionTimestamp")),
        terminal=status.get("phase") in ("Succeeded", "Failed"),
        signal_faults=tuple(pod_signal_faults(pod, signals, now)),
    )


def _uid(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))
