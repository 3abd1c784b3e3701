"""An in-memory API server for unit tests of the shells, as client-go's fake clientset serves
theirs: the verbs of `Kube` that the informer, the writers, the actor and the elector use, with
resourceVersions, compare-and-swap, uid preconditions, a watch history with bookmarks and
compaction (410 Gone), and failures injected per verb (a disconnect is `ClusterUnreachable`).

A watch sends what happened after its resourceVersion and then ends, as at the server's
timeout; `then(...)` queues steps that run each time a watch has nothing more to send, and once
they are spent `stop` is set, so a shell's loop runs to a known end in the test's own thread.
With `hold=True` a watch instead waits for the next change (for shells that start threads).
"""
from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import ResourceType, Snapshot, WatchEvent
from hyperpod_deps.kube.errors import ClusterUnreachable, RequestFailed

BUILT_IN = (
    ResourceType("v1", "Node", "nodes", False),
    ResourceType("v1", "Pod", "pods", True),
    ResourceType("v1", "Event", "events", True),
    ResourceType("events.k8s.io/v1", "Event", "events", True),
    ResourceType("batch/v1", "Job", "jobs", True),
    ResourceType("coordination.k8s.io/v1", "Lease", "leases", True),
)
Key = tuple[str, str, str]  # qualified resource, namespace ("" when cluster-scoped), name


@dataclass(frozen=True)
class Entry:
    """One line of the watch history."""

    version: int
    type: str  # ADDED, MODIFIED, DELETED or BOOKMARK
    resource: str
    object: Manifest


def disconnected(what: str = "watch") -> ClusterUnreachable:
    return ClusterUnreachable(f"{what}: the API server did not answer: connection reset")


def gone() -> RequestFailed:
    return RequestFailed("WATCH: too old resource version", 410)


class FakeApi:
    def __init__(self, stop: threading.Event | None = None, hold: bool = False) -> None:
        self.kinds = {(t.api_version, t.kind): t for t in BUILT_IN}
        self.objects: dict[Key, Manifest] = {}
        self.history: list[Entry] = []
        self.compacted = 0  # a watch from before this resourceVersion gets 410
        self.calls: list[tuple[str, str]] = []  # (verb, qualified resource) as requests arrive
        self.watched_from: list[str] = []  # the resourceVersion of each watch, in order
        self.failures: dict[str, list[Exception | None]] = {}
        self.stop, self.hold = stop or threading.Event(), hold
        self.steps: list[Callable[[], object]] = []
        self.closed = False
        self._version = itertools.count(100)
        self._uids = itertools.count(1)
        self._changed = threading.Condition(threading.RLock())

    # -- arranging -------------------------------------------------------------------------

    def serve(self, rtype: ResourceType) -> None:
        self.kinds[(rtype.api_version, rtype.kind)] = rtype

    def fail(self, verb: str, *errors: Exception | None) -> None:
        """The next calls of `verb` (get, list, watch, create, update, patch, delete) raise these,
        one each, in order; a None lets its call through (to fail a later one);
        `watch-event`: a watch breaks after sending its next event."""
        self.failures.setdefault(verb, []).extend(errors)

    def then(self, *steps: Callable[[], object]) -> None:
        self.steps.extend(steps)

    def bookmark(self, rtype: ResourceType) -> int:
        """A bookmark in the history: a newer resourceVersion and no change."""
        with self._changed:
            version = next(self._version)
            marker = {"apiVersion": rtype.api_version, "kind": rtype.kind,
                      "metadata": {"resourceVersion": str(version)}}
            self._record(Entry(version, "BOOKMARK", rtype.qualified, marker))
            return version

    def compact(self) -> None:
        """Forget the history: every resume point given out so far expires."""
        with self._changed:
            self.compacted = next(self._version)
            self.history.clear()

    def put(self, manifest: Manifest) -> Manifest:
        """Create or overwrite, bypassing every check (the test's own hand on the cluster)."""
        with self._changed:
            key = self._key(self._rtype_of(manifest), manifest)
            return self._store(key, manifest, "MODIFIED" if key in self.objects else "ADDED")

    def remove(self, manifest: Manifest) -> None:
        with self._changed:
            self._drop(self._key(self._rtype_of(manifest), manifest))

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Block until a change makes `condition` true (checked after each write), or time out."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def close_watches(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    # -- the verbs of Kube -----------------------------------------------------------------

    def close(self) -> None:
        pass

    def resource_type(self, api_version: str, kind: str) -> ResourceType | None:
        return self.kinds.get((api_version, kind))

    def get(self, rtype: ResourceType, name: str, namespace: str | None = None) -> Manifest | None:
        self._request("get", rtype)
        found = self.objects.get((rtype.qualified, self._ns(rtype, namespace), name))
        return copy.deepcopy(found) if found is not None else None

    def list(self, rtype: ResourceType, namespace: str | None = None) -> Iterator[Manifest]:
        return iter(self.snapshot(rtype, namespace).items)

    def snapshot(self, rtype: ResourceType, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> Snapshot:
        self._request("list", rtype)
        with self._changed:
            items = [copy.deepcopy(obj) for key, obj in sorted(self.objects.items())
                     if key[0] == rtype.qualified and _matches(obj, namespace, label_selector,
                                                               field_selector)]
            return Snapshot(items, str(self._current()))

    def watch(self, rtype: ResourceType, resource_version: str, namespace: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int = 60) -> Generator[WatchEvent, None, None]:
        self._request("watch", rtype)
        self.watched_from.append(resource_version)
        if int(resource_version or 0) < self.compacted:
            raise gone()
        scanned = int(resource_version or 0)  # the history is read up to here, every resource's
        while True:
            with self._changed:
                entries = [e for e in self.history if e.version > scanned]
                scanned = self._current()
            for entry in entries:
                if entry.resource == rtype.qualified and (
                        entry.type == "BOOKMARK" or _matches(entry.object, namespace, label_selector,
                                                             field_selector)):
                    yield WatchEvent(entry.type, copy.deepcopy(entry.object))
                    self._request("watch-event", rtype)
            if not self._wait_for_more(scanned):
                return

    def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        rtype = self._rtype_of(manifest)
        self._request("create", rtype)
        with self._changed:
            manifest = copy.deepcopy(manifest)
            if rtype.namespaced and namespace:
                manifest.setdefault("metadata", {})["namespace"] = namespace
            key = self._key(rtype, manifest)
            if key in self.objects:
                raise RequestFailed(f"CREATE {rtype.qualified} {key[2]}: already exists", 409)
            manifest["metadata"]["uid"] = f"uid-{next(self._uids)}"
            return self._store(key, manifest, "ADDED")

    def replace(self, manifest: Manifest, subresource: str | None = None) -> Manifest:
        rtype = self._rtype_of(manifest)
        self._request("update", rtype)
        with self._changed:
            key = self._key(rtype, manifest)
            stored = self.objects.get(key)
            if stored is None:
                raise RequestFailed(f"UPDATE {rtype.qualified} {key[2]}: not found", 404)
            sent = str(manifest.get("metadata", {}).get("resourceVersion") or "")
            if sent and sent != stored["metadata"]["resourceVersion"]:
                raise RequestFailed(f"UPDATE {rtype.qualified} {key[2]}: the object has been modified", 409)
            new = copy.deepcopy(stored)
            if subresource == "status":
                new["status"] = copy.deepcopy(manifest.get("status"))
            else:
                new = {**copy.deepcopy(manifest), "status": copy.deepcopy(stored.get("status"))}
                new["metadata"] = {**new["metadata"], "uid": stored["metadata"].get("uid")}
            return self._store(key, new, "MODIFIED")

    def merge_patch(self, rtype: ResourceType, name: str, namespace: str | None, patch: Manifest) -> Manifest:
        self._request("patch", rtype)
        with self._changed:
            key = (rtype.qualified, self._ns(rtype, namespace), name)
            if key not in self.objects:
                raise RequestFailed(f"PATCH {rtype.qualified} {name}: not found", 404)
            sent = str((patch.get("metadata") or {}).get("resourceVersion") or "")
            if sent and sent != self.objects[key]["metadata"]["resourceVersion"]:
                raise RequestFailed(f"PATCH {rtype.qualified} {name}: the object has been modified", 409)
            return self._store(key, _merge(self.objects[key], patch), "MODIFIED")

    def delete(self, rtype: ResourceType, name: str, namespace: str | None = None,
               uid: str | None = None, grace_period_seconds: int | None = None) -> bool:
        self._request("delete", rtype)
        with self._changed:
            key = (rtype.qualified, self._ns(rtype, namespace), name)
            stored = self.objects.get(key)
            if stored is None or (uid and stored["metadata"].get("uid") != uid):
                return False
            self._drop(key)
            return True

    # -- inside ----------------------------------------------------------------------------

    def _request(self, verb: str, rtype: ResourceType) -> None:
        self.calls.append((verb, rtype.qualified))
        pending = self.failures.get(verb)
        if pending:
            error = pending.pop(0)
            if error is not None:
                raise error

    def _wait_for_more(self, after: int) -> bool:
        """Whether the watch goes on: in hold mode until a change or close; otherwise it ends,
        after running the next step (or setting stop when none is left)."""
        if not self.hold:
            if self.steps:
                self.steps.pop(0)()
            else:
                self.stop.set()
            return False
        with self._changed:
            self._changed.wait_for(lambda: self.closed or self._current() > after, timeout=5)
            return not self.closed and self._current() > after

    def _current(self) -> int:
        return max([self.compacted, 1, *(e.version for e in self.history),
                    *(int(o["metadata"]["resourceVersion"]) for o in self.objects.values())])

    def _store(self, key: Key, manifest: Manifest, event: str) -> Manifest:
        manifest = copy.deepcopy(manifest)
        version = next(self._version)
        manifest.setdefault("metadata", {})["resourceVersion"] = str(version)
        self.objects[key] = manifest
        self._record(Entry(version, event, key[0], copy.deepcopy(manifest)))
        return copy.deepcopy(manifest)

    def _drop(self, key: Key) -> None:
        gone_object = self.objects.pop(key)
        version = next(self._version)
        gone_object["metadata"]["resourceVersion"] = str(version)
        self._record(Entry(version, "DELETED", key[0], gone_object))

    def _record(self, entry: Entry) -> None:
        self.history.append(entry)
        self._changed.notify_all()

    def _rtype_of(self, manifest: Manifest) -> ResourceType:
        rtype = self.kinds.get((str(manifest.get("apiVersion")), str(manifest.get("kind"))))
        if rtype is None:
            served = f"{manifest.get('apiVersion')} {manifest.get('kind')}"
            raise RequestFailed(f"the server does not serve {served}", 404)
        return rtype

    def _key(self, rtype: ResourceType, manifest: Manifest) -> Key:
        metadata = manifest.get("metadata") or {}
        return rtype.qualified, self._ns(rtype, metadata.get("namespace")), str(metadata.get("name"))

    @staticmethod
    def _ns(rtype: ResourceType, namespace: str | None) -> str:
        return (namespace or "default") if rtype.namespaced else ""


def _matches(obj: Manifest, namespace: str | None, label_selector: str | None,
             field_selector: str | None) -> bool:
    metadata = obj.get("metadata") or {}
    if namespace and metadata.get("namespace") != namespace:
        return False
    labels = metadata.get("labels") or {}
    for term in filter(None, (label_selector or "").split(",")):
        if term.startswith("!"):
            if term[1:] in labels:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    fields = {"metadata.name": metadata.get("name"), "metadata.namespace": metadata.get("namespace")}
    for term in filter(None, (field_selector or "").split(",")):
        key, value = term.split("=", 1)
        if fields.get(key) != value:
            return False
    return True


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged
