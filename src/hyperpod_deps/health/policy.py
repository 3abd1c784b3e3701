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

from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.core.nodestate import NodeUpdate
from hyperpod_deps.health import labels
from hyperpod_deps.health.plan import CONDITION_ACTIONS, GENERIC, HYPERPOD, Event, Plan
from hyperpod_deps.health.state import ActiveFault, Memory, NodeView

__all__ = ["GENERIC", "HYPERPOD", "Decision", "Event", "PolicyConfig", "Recent", "decide"]


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
    # Keys older than the window can never dedupe again: forgetting them bounds the memory.
    recent_after = {key: seen for key, seen in recent.items()
                    if (now - seen).total_seconds() < config.dedupe_window_seconds}
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
    plan = Plan(view, memory, config.platform, config.recovery_delay_seconds, now)
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
