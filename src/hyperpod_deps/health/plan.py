"""The node update of one policy decision, built step by step (pure): the health label and
taint, recovery after a reboot, the conditions, the fault-details annotation and the memory."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from hyperpod_deps.core import wire
from hyperpod_deps.core.health import Action, Fault, strongest
from hyperpod_deps.core.nodestate import Condition, NodeUpdate
from hyperpod_deps.health import labels
from hyperpod_deps.health.state import STATE_ANNOTATION, ActiveFault, Memory, NodeView

GENERIC = "generic"
HYPERPOD = "hyperpod"
# Actions that hold a node condition True (EVENT and NONE only report).
CONDITION_ACTIONS = (Action.REPLACE, Action.REBOOT, Action.WARNING)


@dataclass(frozen=True)
class Event:
    key: str  # stable for one occurrence: retries and restarts create the event once
    type: str  # Normal | Warning
    reason: str
    note: str
    action: str


class Plan:
    """The node update being built for one decision."""

    def __init__(self, view: NodeView, memory: Memory, platform: str, recovery_delay_seconds: float,
                 now: datetime) -> None:
        self.view, self.memory, self.now = view, memory, now
        self.platform, self.recovery_delay_seconds = platform, recovery_delay_seconds
        self.labels: dict[str, str | None] = {}
        self.annotations: dict[str, str | None] = {}
        self.taint: bool | None = None
        self.wanted: list[Condition] = []
        self.events: list[Event] = []
        self.urgent = False

    @property
    def recovery_due(self) -> bool:
        seen = labels.parse_time(self.memory.boot_seen_at)
        return seen is not None and (self.now - seen).total_seconds() >= self.recovery_delay_seconds

    def health(self, acknowledged: bool) -> None:
        view, memory = self.view, self.memory
        holding = [a for a in memory.active if a.action.quarantines and not a.acknowledged]
        if holding:
            self._quarantine(holding)
        elif memory.quarantine is not None and memory.quarantine_boot != view.boot_id:
            self._recover()
        elif labels.is_command(view.health) and memory.quarantine != view.health:
            # A person (or HyperPod) asked for a reboot or replacement: the same quarantine.
            self.memory = replace(memory, quarantine=view.health, quarantine_boot=view.boot_id)
        # The taint follows the label: present with a command, gone when a person says Schedulable.
        if labels.is_command(self.label_after) and not view.health_taint:
            self.taint = self.urgent = True
        elif acknowledged and self.label_after == wire.SCHEDULABLE and view.health_taint:
            self.taint = False

    @property
    def label_after(self) -> str | None:
        return self.labels.get(wire.NODE_HEALTH_LABEL, self.view.health)

    def _quarantine(self, holding: list[ActiveFault]) -> None:
        worst = min(holding, key=lambda a: a.action.rank)
        target = strongest([a.action for a in holding]).health_status or wire.UNSCHEDULABLE_PENDING_REBOOT
        effective = labels.stronger(self.view.health, target)
        self._label(wire.NODE_HEALTH_LABEL, effective)
        self._label(wire.FAULT_TYPES_LABEL, labels.label_value(worst.type))
        self._label(wire.FAULT_REASONS_LABEL, labels.label_value(worst.reason))
        self.urgent = self.urgent or self.view.health != effective
        self.memory = replace(self.memory, quarantine=effective, quarantine_boot=self.view.boot_id)

    def _recover(self) -> None:
        """After a reboot with no recurrence: back to Schedulable where the agent owns that."""
        if not self.recovery_due:
            return
        quarantined = self.view.health
        if self.platform == GENERIC and quarantined == wire.UNSCHEDULABLE_PENDING_REBOOT:
            self._label(wire.NODE_HEALTH_LABEL, wire.SCHEDULABLE)
            self._label(wire.FAULT_TYPES_LABEL, None)
            self._label(wire.FAULT_REASONS_LABEL, None)
            if self.view.health_taint:
                self.taint = False
            self.urgent = True
            key = hashlib.sha256(f"recovered/{self.view.boot_id}".encode()).hexdigest()[:20]
            self.events.append(Event(key, "Normal", "NodeRecovered",
                                     f"no fault recurred after the reboot (boot {self.view.boot_id}): "
                                     f"{quarantined} -> {wire.SCHEDULABLE}", "recover"))
        self.memory = replace(self.memory, quarantine=None, quarantine_boot=None)

    def _label(self, key: str, value: str | None) -> None:
        if self.view.labels.get(key) != value:
            self.labels[key] = value

    def conditions(self) -> None:
        held = {a.type: a for a in self.memory.active}
        for active in held.values():
            self.wanted.append(Condition(active.type, "True", active.reason, active.message[:1024]))
        stale = [t for t in self.memory.conditions if t not in held]
        if stale and self.recovery_due:
            cleared = [Condition(kind, "False", "NoFaultAfterReboot",
                                 f"no {kind} fault since the reboot (boot {self.view.boot_id})")
                       for kind in stale]
            self.wanted.extend(cleared)
            # Cleared conditions are written after this memory (kube/nodes.py): a type is forgotten
            # only once the node shows it cleared, so that a clearing lost in between is decided again.
            stale = [c.type for c in cleared if self.view.conditions.get(c.type) != c]
            self.urgent = self.urgent or bool(stale)
        self.memory = replace(self.memory, conditions=tuple(sorted({*held, *stale})))

    def details(self, fresh: list[Fault]) -> None:
        current = self.view.fault_details()
        merged = list(current)
        for fault in fresh:
            if fault.action in CONDITION_ACTIONS and fault.details() not in merged:
                merged.append(fault.details())
        merged = merged[-wire.FAULT_DETAILS_LIMIT:]
        if merged != current:
            self.annotations[wire.FAULT_DETAILS_ANNOTATION] = labels.dump_details(merged)

    def update(self) -> NodeUpdate:
        if self.memory.boot_id is None and not self.memory.empty:
            self.memory = replace(self.memory, boot_id=self.view.boot_id,
                                  boot_seen_at=labels.timestamp(self.now))
        state = None if self.memory.empty else self.memory.dump()
        if self.view.annotations.get(STATE_ANNOTATION) != state:
            self.annotations[STATE_ANNOTATION] = state
        conditions = tuple(c for c in self.wanted if self.view.conditions.get(c.type) != c)
        return NodeUpdate(self.labels, self.annotations, self.taint, conditions)
