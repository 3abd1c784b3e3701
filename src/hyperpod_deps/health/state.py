"""The agent's view of its node, and what it remembers ON the node (pure).

What the agent must remember across its own restarts lives in one annotation of the node it
marks (`hyperpod-deps/health-agent-state`), written in the same compare-and-swap as the labels
it explains. A restarted agent, or one that lost its writes to an API server restart, reads it
back: it knows which quarantine it set, in which boot, and in which boots each rule fired.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hyperpod_deps.core import wire
from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.nodestate import Condition, has_health_taint

STATE_ANNOTATION = "hyperpod-deps/health-agent-state"
# Boots remembered per rule: enough to see a recurrence after a reboot.
BOOTS_PER_RULE = 3
RULES_REMEMBERED = 64


@dataclass(frozen=True)
class ActiveFault:
    """The strongest fault of one type seen in the current boot; it holds the condition True."""

    type: str
    reason: str
    action: Action
    rule: str
    message: str
    acknowledged: bool = False  # a person lowered the label the agent set for it

    @classmethod
    def of(cls, fault: Fault) -> ActiveFault:
        return cls(fault.type, fault.reason, fault.action, fault.rule, fault.message)


@dataclass(frozen=True)
class Memory:
    boot_id: str | None = None  # the boot `active` belongs to
    boot_seen_at: str | None = None  # when the agent first saw that boot
    active: tuple[ActiveFault, ...] = ()
    quarantine: str | None = None  # health label the agent set or adopted from a person
    quarantine_boot: str | None = None
    conditions: tuple[str, ...] = ()  # condition types the agent holds True
    history: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # rule -> boots

    @property
    def empty(self) -> bool:
        return not (self.active or self.quarantine or self.conditions or self.history)

    def dump(self) -> str:
        data = {"bootId": self.boot_id, "bootSeenAt": self.boot_seen_at,
                "active": [{"type": a.type, "reason": a.reason, "action": a.action.value, "rule": a.rule,
                            "message": a.message, "acknowledged": a.acknowledged} for a in self.active],
                "quarantine": self.quarantine, "quarantineBoot": self.quarantine_boot,
                "conditions": list(self.conditions),
                "history": {rule: list(boots) for rule, boots in self.history.items()}}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> Memory:
        """Whatever is there; anything unreadable (edited by hand, an older format) is forgotten."""
        try:
            data = json.loads(text or "{}")
            return cls(
                boot_id=_optional(data.get("bootId")), boot_seen_at=_optional(data.get("bootSeenAt")),
                active=tuple(ActiveFault(str(a["type"]), str(a["reason"]), Action(a["action"]),
                                         str(a["rule"]), str(a["message"]), bool(a.get("acknowledged")))
                             for a in data.get("active") or []),
                quarantine=_optional(data.get("quarantine")),
                quarantine_boot=_optional(data.get("quarantineBoot")),
                conditions=tuple(str(c) for c in data.get("conditions") or []),
                history={str(rule): tuple(str(b) for b in boots)
                         for rule, boots in (data.get("history") or {}).items()})
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()

    def seen_in(self, rule: str, boot: str) -> Memory:
        boots = (*(b for b in self.history.get(rule, ()) if b != boot), boot)
        history = {r: b for r, b in self.history.items() if r != rule}
        history[rule] = boots[-BOOTS_PER_RULE:]
        return replace(self, history=dict(list(history.items())[-RULES_REMEMBERED:]))

    def with_active(self, fault: ActiveFault) -> Memory:
        """The fault becomes the active one of its type unless a stronger one is there."""
        current = next((a for a in self.active if a.type == fault.type), None)
        if current is not None and current.action.rank < fault.action.rank and not current.acknowledged:
            return self
        others = tuple(a for a in self.active if a.type != fault.type)
        return replace(self, active=(*others, fault))


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class NodeView:
    """The parts of a Node the agent reads."""

    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    conditions: Mapping[str, Condition]
    boot_id: str
    health_taint: bool

    @classmethod
    def of(cls, node: Manifest) -> NodeView:
        metadata = node.get("metadata") or {}
        status = node.get("status") or {}
        conditions = {str(c.get("type")): Condition(str(c.get("type")), str(c.get("status")),
                                                     str(c.get("reason", "")), str(c.get("message", "")))
                      for c in status.get("conditions") or []}
        return cls(str(metadata.get("name", "")), dict(metadata.get("labels") or {}),
                   dict(metadata.get("annotations") or {}), conditions,
                   str((status.get("nodeInfo") or {}).get("bootID", "")), has_health_taint(node))

    @property
    def health(self) -> str | None:
        return self.labels.get(wire.NODE_HEALTH_LABEL)

    @property
    def memory(self) -> Memory:
        return Memory.load(self.annotations.get(STATE_ANNOTATION))

    def fault_details(self) -> list[dict[str, str]]:
        """The fault-details annotation; entries that are not the contract's shape are dropped."""
        try:
            loaded = json.loads(self.annotations.get(wire.FAULT_DETAILS_ANNOTATION) or "[]")
        except ValueError:
            return []
        if not isinstance(loaded, list):
            return []
        keys = ("timestamp", "type", "reason", "message")
        return [{k: str(entry[k]) for k in keys} for entry in loaded
                if isinstance(entry, dict) and all(k in entry for k in keys)]
