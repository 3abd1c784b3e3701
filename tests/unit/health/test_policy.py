"""The health agent's policy, table-tested with a fake clock and an in-memory node.

Each step decides against the node as it stands, then applies the update the way the kube layer
does (core.nodestate), so multi-step stories (fault, reboot, recovery) run as they would live.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hyperpod_deps.core import wire
from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.core.nodestate import apply_conditions, apply_metadata
from hyperpod_deps.health import labels
from hyperpod_deps.health.policy import GENERIC, HYPERPOD, Decision, PolicyConfig, Recent, decide
from hyperpod_deps.health.state import STATE_ANNOTATION, Memory, NodeView

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
HEALTH = wire.NODE_HEALTH_LABEL
ESCALATIONS = {"kmsg/xid-62": Action.REPLACE}


def fault(action: Action, rule: str = "kmsg/xid-79", type_: str = "NvidiaGPUUnhealthy",
          reason: str = "XidHardwareFailure", message: str = "GPU has fallen off the bus",
          at: datetime = T0) -> Fault:
    return Fault(labels.timestamp(at), type_, reason, message, action, rule, "kmsg")


XID79 = fault(Action.REPLACE)
XID62 = fault(Action.REBOOT, rule="kmsg/xid-62", reason="XidInternalError",
              message="internal micro-controller halt")
XID13 = fault(Action.EVENT, rule="kmsg/xid-13", reason="XidUserAppError", message="Graphics Engine Exception")
HUNG = fault(Action.WARNING, rule="kmsg/hung-task", type_="KernelDeadlock", reason="SoftwareError",
             message="task python:42 blocked for more than 120 seconds")


def config(platform: str = GENERIC, **overrides: float) -> PolicyConfig:
    values = {"dedupe_window_seconds": 60.0, "recovery_delay_seconds": 30.0, "debounce_seconds": 2.0}
    values.update(overrides)
    return PolicyConfig(platform, escalation=ESCALATIONS.get, **values)


@dataclass
class Node:
    """A node object and the dedupe memory of one agent process."""

    manifest: dict[str, Any] = field(default_factory=lambda: {
        "metadata": {"name": "n1", "labels": {HEALTH: wire.SCHEDULABLE}, "annotations": {}},
        "spec": {}, "status": {"nodeInfo": {"bootID": "boot-1"}, "conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}]}})
    recent: Recent = field(default_factory=dict)

    @property
    def view(self) -> NodeView:
        return NodeView.of(self.manifest)

    @property
    def health(self) -> str | None:
        return self.view.health

    def step(self, faults: list[Fault], cfg: PolicyConfig, now: datetime = T0,
             pending_since: datetime | None = None) -> Decision:
        """Decide, and apply the update as the writer would when it writes."""
        decision = decide(self.view, faults, self.recent, cfg, now, pending_since)
        self.manifest = apply_metadata(self.manifest, decision.update) or self.manifest
        self.manifest = apply_conditions(self.manifest, decision.update.conditions,
                                         labels.timestamp(now)) or self.manifest
        self.recent = decision.recent
        return decision

    def label(self, value: str) -> None:
        self.manifest["metadata"]["labels"][HEALTH] = value

    def reboot(self, boot: str) -> None:
        self.manifest["status"]["nodeInfo"]["bootID"] = boot

    def condition(self, type_: str) -> tuple[str, str] | None:
        found = self.view.conditions.get(type_)
        return (found.status, found.reason) if found else None

    def details(self) -> list[dict[str, str]]:
        return self.view.fault_details()


# --- one fault on a healthy node ---------------------------------------------------------


def test_a_replace_fault_quarantines_at_once_with_every_mark() -> None:
    node = Node()
    decision = node.step([XID79], config())
    assert decision.urgent and decision.write_now
    assert node.health == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert node.view.labels[wire.FAULT_TYPES_LABEL] == "NvidiaGPUUnhealthy"
    assert node.view.labels[wire.FAULT_REASONS_LABEL] == "XidHardwareFailure"
    assert node.view.health_taint
    assert node.condition("NvidiaGPUUnhealthy") == ("True", "XidHardwareFailure")
    assert node.condition("Ready") == ("True", "KubeletReady")
    assert node.details() == [XID79.details()]
    events = [(e.type, e.reason, e.action) for e in decision.events]
    assert events == [("Warning", "XidHardwareFailure", "replace")]
    memory = node.view.memory
    assert memory.quarantine == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert memory.quarantine_boot == "boot-1"
    assert memory.history == {"kmsg/xid-79": ("boot-1",)}


@pytest.mark.parametrize(("faults", "label"), [
    ([XID62], wire.UNSCHEDULABLE_PENDING_REBOOT),
    ([XID62, XID79], wire.UNSCHEDULABLE_PENDING_REPLACEMENT),
    ([XID79, XID62], wire.UNSCHEDULABLE_PENDING_REPLACEMENT),
    ([HUNG], wire.SCHEDULABLE),
    ([XID13], wire.SCHEDULABLE),
])
def test_the_strongest_action_sets_the_label(faults: list[Fault], label: str) -> None:
    node = Node()
    node.step(faults, config())
    assert node.health == label
    assert node.view.health_taint is (label != wire.SCHEDULABLE)


def test_an_application_xid_gives_an_event_and_nothing_on_the_node() -> None:
    node = Node()
    before = json.dumps(node.manifest, sort_keys=True)
    decision = node.step([XID13], config())
    assert decision.update.empty and not decision.write_now
    assert [e.reason for e in decision.events] == ["XidUserAppError"]
    assert json.dumps(node.manifest, sort_keys=True) == before


def test_a_warning_sets_its_condition_after_the_debounce_and_never_quarantines() -> None:
    node = Node()
    early = decide(node.view, [HUNG], node.recent, config(), T0, pending_since=T0)
    assert not early.urgent and not early.write_now and not early.update.empty
    due = node.step([HUNG], config(), T0 + timedelta(seconds=2), pending_since=T0)
    assert due.write_now
    assert node.condition("KernelDeadlock") == ("True", "SoftwareError")
    assert node.health == wire.SCHEDULABLE and not node.view.health_taint
    assert wire.FAULT_TYPES_LABEL not in node.view.labels


def test_deciding_again_after_the_write_changes_nothing() -> None:
    node = Node()
    first = node.step([XID79], config())
    again = decide(node.view, [XID79], {}, config(), T0)  # the retry of a write whose answer was lost
    assert again.update.empty
    assert [e.key for e in again.events] == [e.key for e in first.events]


# --- dedupe and the fault-details annotation ----------------------------------------------


def test_the_same_fault_twice_in_the_window_gives_one_event() -> None:
    node = Node()
    assert len(node.step([HUNG], config(), T0, T0).events) == 1
    assert node.step([HUNG], config(), T0 + timedelta(seconds=30), T0).events == ()
    later = node.step([HUNG], config(), T0 + timedelta(seconds=61), T0)
    assert len(later.events) == 1
    assert len(node.details()) == 1  # the same detail (same timestamp) is never listed twice


def test_fault_details_keep_the_last_twenty_in_order() -> None:
    node = Node()
    for index in range(25):
        at = T0 + timedelta(minutes=2 * index)
        node.step([fault(Action.WARNING, message=f"m{index}", at=at)], config(), at, pending_since=T0)
    assert [d["message"] for d in node.details()] == [f"m{i}" for i in range(5, 25)]


def test_an_unreadable_fault_details_annotation_is_replaced() -> None:
    node = Node()
    node.manifest["metadata"]["annotations"][wire.FAULT_DETAILS_ANNOTATION] = "not json{"
    node.step([XID79], config())
    assert node.details() == [XID79.details()]


# --- what people set by hand -----------------------------------------------------------------


@pytest.mark.parametrize(("manual", "faults", "expected"), [
    (wire.UNSCHEDULABLE_PENDING_REPLACEMENT, [XID62], wire.UNSCHEDULABLE_PENDING_REPLACEMENT),
    (wire.UNSCHEDULABLE_PENDING_REBOOT, [XID62], wire.UNSCHEDULABLE_PENDING_REBOOT),
    (wire.UNSCHEDULABLE_PENDING_REBOOT, [XID79], wire.UNSCHEDULABLE_PENDING_REPLACEMENT),
    (wire.UNSCHEDULABLE_PENDING_REPLACEMENT, [], wire.UNSCHEDULABLE_PENDING_REPLACEMENT),
    (wire.UNSCHEDULABLE, [XID62], wire.UNSCHEDULABLE_PENDING_REBOOT),
])
def test_a_manual_label_is_never_downgraded(manual: str, faults: list[Fault], expected: str) -> None:
    node = Node()
    node.label(manual)
    node.step(faults, config())
    assert node.health == expected


def test_a_manual_command_is_adopted_tainted_and_recovered_after_a_reboot() -> None:
    node = Node()
    node.label(wire.UNSCHEDULABLE_PENDING_REBOOT)
    decision = node.step([], config())
    assert decision.write_now and node.view.health_taint
    assert node.view.memory.quarantine == wire.UNSCHEDULABLE_PENDING_REBOOT
    node.reboot("boot-2")
    node.step([], config(), T0 + timedelta(seconds=1))
    node.step([], config(), T0 + timedelta(seconds=31))
    assert node.health == wire.SCHEDULABLE and not node.view.health_taint


def test_a_person_who_lowers_the_label_is_not_overridden_until_a_new_detection() -> None:
    node = Node()
    node.step([XID62], config())
    node.label(wire.SCHEDULABLE)
    decision = node.step([], config(), T0 + timedelta(seconds=5), pending_since=T0)
    assert node.health == wire.SCHEDULABLE
    assert decision.update.health_taint is False and not node.view.health_taint
    assert node.condition("NvidiaGPUUnhealthy") == ("True", "XidInternalError")
    node.step([], config(), T0 + timedelta(minutes=5), pending_since=T0)
    assert node.health == wire.SCHEDULABLE
    again = fault(Action.REBOOT, rule="kmsg/xid-62", reason="XidInternalError", message="again",
                  at=T0 + timedelta(minutes=6))
    node.step([again], config(), T0 + timedelta(minutes=6))
    assert node.health == wire.UNSCHEDULABLE_PENDING_REBOOT and node.view.health_taint


# --- drift is repaired --------------------------------------------------------------------------


def test_a_removed_taint_and_a_removed_condition_are_put_back() -> None:
    node = Node()
    node.step([XID79], config())
    node.manifest["spec"]["taints"] = []
    node.manifest["status"]["conditions"] = [c for c in node.manifest["status"]["conditions"]
                                             if c["type"] != "NvidiaGPUUnhealthy"]
    decision = node.step([], config(), T0 + timedelta(seconds=60), pending_since=T0)
    assert decision.write_now
    assert node.view.health_taint
    assert node.condition("NvidiaGPUUnhealthy") == ("True", "XidHardwareFailure")


# --- reboot, recovery, escalation ---------------------------------------------------------------


def rebooted_after(first: list[Fault], platform: str, delay: float = 31) -> tuple[Node, Decision]:
    node = Node()
    node.step(first, config(platform))
    node.reboot("boot-2")
    waiting = node.step([], config(platform), T0 + timedelta(seconds=10), pending_since=T0)
    assert not waiting.urgent  # only the new boot is recorded: the recovery delay runs
    decision = node.step([], config(platform), T0 + timedelta(seconds=10 + delay))
    return node, decision


def test_generic_returns_a_rebooted_node_to_schedulable_after_the_delay() -> None:
    node, decision = rebooted_after([XID62], GENERIC)
    assert decision.urgent
    assert node.health == wire.SCHEDULABLE
    assert not node.view.health_taint
    assert wire.FAULT_TYPES_LABEL not in node.view.labels
    assert node.condition("NvidiaGPUUnhealthy") == ("False", "NoFaultAfterReboot")
    assert [e.reason for e in decision.events] == ["NodeRecovered"]
    assert node.view.memory.quarantine is None


def test_before_the_recovery_delay_the_node_stays_quarantined() -> None:
    node, _ = rebooted_after([XID62], GENERIC, delay=10)
    assert node.health == wire.UNSCHEDULABLE_PENDING_REBOOT
    assert node.condition("NvidiaGPUUnhealthy") == ("True", "XidInternalError")


def test_a_pending_replacement_is_not_undone_by_a_reboot() -> None:
    node, _ = rebooted_after([XID79], GENERIC)
    assert node.health == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert node.view.health_taint


def test_on_hyperpod_the_control_plane_owns_the_return_to_schedulable() -> None:
    node, decision = rebooted_after([XID62], HYPERPOD)
    assert node.health == wire.UNSCHEDULABLE_PENDING_REBOOT
    assert node.view.health_taint
    assert node.condition("NvidiaGPUUnhealthy") == ("False", "NoFaultAfterReboot")
    assert decision.events == ()


def test_a_fault_that_recurs_after_a_reboot_escalates_to_replace() -> None:
    node, _ = rebooted_after([XID62], GENERIC)
    again = fault(Action.REBOOT, rule="kmsg/xid-62", reason="XidInternalError", message="halt again",
                  at=T0 + timedelta(minutes=5))
    decision = node.step([again], config(), T0 + timedelta(minutes=5))
    assert node.health == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert decision.events[0].action == "replace"
    assert "recurred after a reboot" in node.details()[-1]["message"]


def test_a_rule_without_escalation_quarantines_for_reboot_again() -> None:
    node, _ = rebooted_after([XID62], GENERIC)
    other = fault(Action.REBOOT, rule="kmsg/xid-63", reason="XidRowRemap", message="row remap pending",
                  at=T0 + timedelta(minutes=5))
    node.step([other], config(), T0 + timedelta(minutes=5))
    assert node.health == wire.UNSCHEDULABLE_PENDING_REBOOT


def test_a_fault_in_the_same_boot_does_not_escalate() -> None:
    node = Node()
    node.step([XID62], config())
    later = fault(Action.REBOOT, rule="kmsg/xid-62", reason="XidInternalError", message="halt again",
                  at=T0 + timedelta(minutes=5))
    node.step([later], config(), T0 + timedelta(minutes=5))
    assert node.health == wire.UNSCHEDULABLE_PENDING_REBOOT


# --- memory on the node ----------------------------------------------------------------------------


def test_memory_survives_a_round_trip_and_garbage_is_forgotten() -> None:
    node = Node()
    node.step([XID79, HUNG], config())
    text = node.view.annotations[STATE_ANNOTATION]
    assert Memory.load(text).dump() == text
    for garbage in ("", "[]", "{", '{"active": [{"type": 1}]}', '{"active": 5}'):
        assert Memory.load(garbage).empty, garbage


def test_a_healthy_node_gets_no_memory_annotation() -> None:
    node = Node()
    decision = node.step([XID13], config())
    assert STATE_ANNOTATION not in node.view.annotations
    assert decision.update.empty


@pytest.mark.parametrize(("text", "value"), [
    ("NvidiaGPUUnhealthy", "NvidiaGPUUnhealthy"),
    ("Xid 79: fell off/bus", "Xid-79-fell-off-bus"),
    ("-x-", "x"),
    ("!!!", "Unknown"),
    ("a" * 80, "a" * 63),
])
def test_label_values_are_always_valid(text: str, value: str) -> None:
    assert labels.label_value(text) == value


def test_dedupe_memory_forgets_what_can_no_longer_dedupe() -> None:
    node = Node()
    node.step([HUNG], config(), T0, T0)
    assert len(node.recent) == 1
    node.step([], config(), T0 + timedelta(seconds=59), T0)
    assert len(node.recent) == 1
    node.step([], config(), T0 + timedelta(seconds=61), T0)
    assert node.recent == {}
