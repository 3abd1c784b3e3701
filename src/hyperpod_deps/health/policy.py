"""What the agent writes on its node, decided from what it sees (pure: no I/O, clock passed in).

`decide` takes the node as last read, the faults not yet written and the in-process dedupe
memory, and returns the node update, the events and whether to write now. It is idempotent in
the faults: deciding again with the same faults against a node that already carries them (a
write whose answer was lost) changes nothing, so the caller may retry freely.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
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

DedupeKey = tuple[str, ...]
Recent = Mapping[DedupeKey, datetime]


@dataclass(frozen=True)
class PolicyConfig:
    platform: str  # hyperpod | generic
    dedupe_window_seconds: float
    recovery_delay_seconds: float
    debounce_seconds: float
    escalation: Callable[[str], Action | None]  # rule id -> the action its recurrence asks for


@dataclass(frozen=True)
class Event:
    key: str  # stable for one occurrence: retries and restarts create the event once
    type: str  # Normal | Warning
    reason: str
    note: str
    action: str


@dataclass(frozen=True)
class Decision:
    update: NodeUpdate
    events: tuple[Event, ...]
    recent: Recent
    urgent: bool  # a quarantine or a recovery: written at once, never batched
    write_now: bool


def decide(view: NodeView, faults: Sequence[Fault], recent: Recent, config: PolicyConfig,
           now: datetime, pending_since: datetime | None = None) -> Decision:
    memory = _boot(view.memory, view.boot_id, labels.timestamp(now))
    memory, acknowledged = _acknowledged(memory, view)
    events: list[Event] = []
    fresh: list[Fault] = []
    recent_after = dict(recent)
    for fault in faults:
        fault = _escalated(fault, memory, view.boot_id, config)
        if fault.action in CONDITION_ACTIONS:
            memory = memory.seen_in(fault.rule, view.boot_id)
        key = (view.boot_id, fault.type, fault.reason, fault.rule, fault.message)
        last = recent.get(key)
        if last is not None and (now - last).total_seconds() < config.dedupe_window_seconds:
            continue
        recent_after[key] = now
        if fault.action is Action.NONE:
            continue
        fresh.append(fault)
        events.append(_fault_event(fault, view.boot_id))
        if fault.action in CONDITION_ACTIONS:
            memory = memory.with_active(ActiveFault.of(fault))
    plan = _Plan(view, memory, config, now)
    plan.health(acknowledged)
    plan.conditions()
    plan.details(fresh)
    events.extend(plan.events)
    update = plan.update()
    urgent = plan.urgent
    due = pending_since is not None and (now - pending_since).total_seconds() >= config.debounce_seconds
    write_now = not update.empty and (urgent or due)
    return Decision(update, tuple(events), recent_after, urgent, write_now)


def _boot(memory: Memory, boot: str, stamp: str) -> Memory:
    """Memory belongs to a boot. In a new one the faults seen before are history, and what they
    held (label, conditions) waits for the recovery delay from the moment the boot was seen."""
    if memory.boot_id == boot or (memory.boot_id is None and memory.empty):
        return memory
    return replace(memory, boot_id=boot, boot_seen_at=stamp, active=())


def _acknowledged(memory: Memory, view: NodeView) -> tuple[Memory, bool]:
    """Someone lowered the label the agent set in this boot: a person's word, not to be undone.

    The faults behind it stay (their conditions are facts); only a new detection quarantines again.
    """
    if memory.quarantine is None or memory.quarantine_boot != view.boot_id:
        return memory, False
    if labels.rank(view.health) >= labels.rank(memory.quarantine):
        return memory, False
    active = tuple(replace(a, acknowledged=True) if a.action.quarantines else a for a in memory.active)
    return replace(memory, quarantine=None, quarantine_boot=None, active=active), True


def _escalated(fault: Fault, memory: Memory, boot: str, config: PolicyConfig) -> Fault:
    """A fault whose rule escalates, seen again in a later boot than before, asks for more."""
    escalation = config.escalation(fault.rule)
    earlier = [b for b in memory.history.get(fault.rule, ()) if b != boot]
    if escalation is None or not earlier or escalation.rank >= fault.action.rank:
        return fault
    message = f"{fault.message} (recurred after a reboot: escalated from {fault.action.value})"
    return replace(fault, action=escalation, message=message)


def _fault_event(fault: Fault, boot: str) -> Event:
    seed = "/".join((boot, fault.timestamp, fault.rule, fault.message))
    return Event(hashlib.sha256(seed.encode()).hexdigest()[:20], "Warning", fault.reason,
                 f"{fault.type}: {fault.message} (rule {fault.rule}, action {fault.action.value})",
                 fault.action.value)


class _Plan:
    """The node update being built for one decision."""

    def __init__(self, view: NodeView, memory: Memory, config: PolicyConfig, now: datetime) -> None:
        self.view, self.memory, self.config, self.now = view, memory, config, now
        self.labels: dict[str, str | None] = {}
        self.annotations: dict[str, str | None] = {}
        self.taint: bool | None = None
        self.wanted: list[Condition] = []
        self.events: list[Event] = []
        self.urgent = False

    @property
    def recovery_due(self) -> bool:
        seen = labels.parse_time(self.memory.boot_seen_at)
        return seen is not None and (self.now - seen).total_seconds() >= self.config.recovery_delay_seconds

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
        if self.config.platform == GENERIC and quarantined == wire.UNSCHEDULABLE_PENDING_REBOOT:
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
            for kind in stale:
                self.wanted.append(Condition(kind, "False", "NoFaultAfterReboot",
                                             f"no {kind} fault since the reboot (boot {self.view.boot_id})"))
            self.urgent = True
            stale = []
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
