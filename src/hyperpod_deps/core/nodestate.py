"""What an agent wants changed on a Node, and applying that to a Node object (pure).

The health agent's policy produces a `NodeUpdate`; the kube layer applies its parts with
`apply_conditions` and `apply_metadata` to the Node it just read and writes each back with a
compare-and-swap, raised conditions before the labels and taint, cleared ones after them
(kube/nodes.py says why).
Only the keys named in the update change: labels, annotations, taints and conditions that
others own are carried over untouched.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hyperpod_deps.core import wire
from hyperpod_deps.core.manifest import Manifest


@dataclass(frozen=True)
class Condition:
    """A node condition as the agent sets it; the timestamps are filled in when applied."""

    type: str
    status: str  # "True" or "False"
    reason: str
    message: str


@dataclass(frozen=True)
class NodeUpdate:
    """Changes to one node. A None value removes the label or annotation; `health_taint` True
    adds the node-health taint, False removes it, None leaves taints alone."""

    labels: Mapping[str, str | None] = field(default_factory=dict)
    annotations: Mapping[str, str | None] = field(default_factory=dict)
    health_taint: bool | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.labels or self.annotations or self.conditions) and self.health_taint is None

    @property
    def touches_metadata(self) -> bool:
        """Labels, annotations and taints: one write of the Node itself."""
        return bool(self.labels or self.annotations) or self.health_taint is not None

    @property
    def raised(self) -> tuple[Condition, ...]:
        """Conditions set True: the facts a label or taint may rest on."""
        return tuple(c for c in self.conditions if c.status == "True")

    @property
    def cleared(self) -> tuple[Condition, ...]:
        """Conditions set to anything but True: no longer facts a label or taint may rest on."""
        return tuple(c for c in self.conditions if c.status != "True")


HEALTH_TAINT = {"key": wire.NODE_HEALTH_LABEL, "value": wire.NODE_HEALTH_TAINT_VALUE,
                "effect": wire.NODE_HEALTH_TAINT_EFFECT}


def has_health_taint(node: Manifest) -> bool:
    return any(_is_health_taint(taint) for taint in (node.get("spec") or {}).get("taints") or [])


def apply_metadata(node: Manifest, update: NodeUpdate) -> Manifest | None:
    """The node with the update's labels, annotations and taint applied; None if nothing changes."""
    new = copy.deepcopy(node)
    metadata = new.setdefault("metadata", {})
    for key, values in (("labels", update.labels), ("annotations", update.annotations)):
        current = metadata.get(key) or {}
        for name, value in values.items():
            if value is None:
                current.pop(name, None)
            else:
                current[name] = value
        metadata[key] = current
    if update.health_taint is not None:
        spec = new.setdefault("spec", {})
        others = [t for t in spec.get("taints") or [] if t.get("key") != wire.NODE_HEALTH_LABEL]
        spec["taints"] = [*others, dict(HEALTH_TAINT)] if update.health_taint else others
        if not spec["taints"]:
            spec.pop("taints")
    return None if new == node else new


def apply_conditions(node: Manifest, conditions: tuple[Condition, ...], now: str) -> Manifest | None:
    """The node with the conditions set (by type); None if none of them changes.

    lastTransitionTime moves only when the status flips, as the kubelet does it.
    """
    new = copy.deepcopy(node)
    status = new.setdefault("status", {})
    existing: list[dict[str, Any]] = status.get("conditions") or []
    changed = False
    for wanted in conditions:
        current = next((c for c in existing if c.get("type") == wanted.type), None)
        if current is not None and _same(current, wanted):
            continue
        changed = True
        entry = {"type": wanted.type, "status": wanted.status, "reason": wanted.reason,
                 "message": wanted.message, "lastHeartbeatTime": now,
                 "lastTransitionTime": now if current is None or current.get("status") != wanted.status
                 else current.get("lastTransitionTime", now)}
        if current is None:
            existing.append(entry)
        else:
            current.clear()
            current.update(entry)
    status["conditions"] = existing
    return new if changed else None


def _same(current: Mapping[str, Any], wanted: Condition) -> bool:
    return (current.get("status"), current.get("reason"), current.get("message")) == (
        wanted.status, wanted.reason, wanted.message)


def _is_health_taint(taint: Mapping[str, Any]) -> bool:
    return all(taint.get(key) == value for key, value in HEALTH_TAINT.items())
