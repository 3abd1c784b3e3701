"""Faults under a job: what about a node (or a pod) calls for the job to be brought back.

A fault has an identity (`Fault.key`): trigger, node name and uid, and a marker of the episode:
the node's transition time where the API keeps one (the Ready condition, the newest entry of the
health agent's fault-details), else the node's resourceVersion when the fault was first seen.
A job's restart record keeps the keys it handled, so one fault restarts a job once.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hyperpod_deps.core import wire


class Trigger(enum.StrEnum):
    UNSCHEDULABLE = "NodeUnschedulable"
    NOT_READY = "NodeNotReady"
    NODE_DELETED = "NodeDeleted"
    POD_SIGNAL = "PodKilledBySignal"


@dataclass(frozen=True)
class NodeView:
    name: str
    uid: str
    resource_version: str
    health: str | None
    ready: str | None  # the Ready condition's status: True, False, Unknown; None when absent
    ready_since: str | None
    newest_fault_detail: str | None  # timestamp of the newest fault-details entry


@dataclass(frozen=True)
class Fault:
    trigger: Trigger
    node: str
    node_uid: str
    since: str
    detail: str
    started: float  # epoch seconds the fault began (or was first seen): grace and latency
    pod_uid: str | None = None  # set for pod triggers: only that pod is under the fault

    @property
    def key(self) -> str:
        return "/".join((self.trigger.value, self.node, self.node_uid, self.since, self.pod_uid or ""))


def node_view(node: Mapping[str, Any]) -> NodeView:
    metadata = node.get("metadata") or {}
    ready = next(
        (
            c
            for c in (node.get("status") or {}).get("conditions") or []
            if isinstance(c, Mapping) and c.get("type") == "Ready"
        ),
        None,
    )
    return NodeView(
        name=str(metadata.get("name", "")),
        uid=str(metadata.get("uid", "")),
        resource_version=str(metadata.get("resourceVersion", "")),
        health=(metadata.get("labels") or {}).get(wire.NODE_HEALTH_LABEL),
        ready=str(ready.get("status")) if ready else None,
        ready_since=str(ready.get("lastTransitionTime"))
        if ready and ready.get("lastTransitionTime")
        else None,
        newest_fault_detail=_newest_detail(
            (metadata.get("annotations") or {}).get(wire.FAULT_DETAILS_ANNOTATION)
        ),
    )


def node_faults(node: NodeView, previous: Iterable[Fault], now: float) -> list[Fault]:
    """The node's faults now. `previous` are its faults as last seen, so an episode keeps the
    identity it was first given while it lasts."""
    earlier = {f.trigger: f for f in previous if f.node_uid == node.uid and f.pod_uid is None}
    found = []
    if wire.is_unschedulable(node.health):
        since = node.newest_fault_detail or f"rv{node.resource_version}"
        fault = Fault(
            Trigger.UNSCHEDULABLE,
            node.name,
            node.uid,
            since,
            f"{wire.NODE_HEALTH_LABEL}={node.health}",
            parse_time(node.newest_fault_detail) or now,
        )
        kept = earlier.get(Trigger.UNSCHEDULABLE)
        found.append(replace(kept, detail=fault.detail) if kept else fault)
    if node.ready is not None and node.ready != "True":
        since = node.ready_since or f"rv{node.resource_version}"
        kept = earlier.get(Trigger.NOT_READY)
        fault = Fault(
            Trigger.NOT_READY,
            node.name,
            node.uid,
            since,
            f"Ready={node.ready}",
            parse_time(node.ready_since) or now,
        )
        found.append(kept if kept and kept.since == since else fault)
    return found


def deleted_fault(name: str, uid: str, now: float) -> Fault:
    return Fault(Trigger.NODE_DELETED, name, uid or "unknown", "deleted", "the node was deleted", now)


def pod_signal_faults(pod: Mapping[str, Any], signals: frozenset[int], now: float) -> list[Fault]:
    """Containers of the pod last ended by one of the given signals (exit code 128 + signal)."""
    if not signals:
        return []
    metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    found = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        for state in (status.get("state") or {}, status.get("lastState") or {}):
            ended = state.get("terminated") if isinstance(state, Mapping) else None
            number = _signal_of(ended) if isinstance(ended, Mapping) else None
            if number in signals and isinstance(ended, Mapping):
                since = f"{status.get('name')}@{ended.get('finishedAt') or status.get('restartCount')}"
                found.append(
                    Fault(
                        Trigger.POD_SIGNAL,
                        str(spec.get("nodeName") or ""),
                        "",
                        since,
                        f"container {status.get('name')} killed by signal {number}",
                        parse_time(ended.get("finishedAt")) or now,
                        str(metadata.get("uid", "")),
                    )
                )
                break
    return found


def _signal_of(terminated: Mapping[str, Any]) -> int | None:
    if isinstance(terminated.get("signal"), int) and terminated["signal"] > 0:
        return int(terminated["signal"])
    code = terminated.get("exitCode")
    return code - 128 if isinstance(code, int) and 128 < code < 160 else None


def _newest_detail(raw: Any) -> str | None:
    """The newest timestamp in the fault-details annotation; garbage gives None."""
    try:
        entries = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    stamps = (
        [str(e["timestamp"]) for e in entries or [] if isinstance(e, dict) and e.get("timestamp")]
        if isinstance(entries, list)
        else []
    )
    return max(stamps, default=None)


def parse_time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
