"""Faults from nodes and pods, and the identity that keeps one fault to one restart."""

from __future__ import annotations

import json
from typing import Any

from hyperpod_deps.autorestart.faults import (
    Trigger,
    deleted_fault,
    node_faults,
    node_view,
    parse_time,
    pod_signal_faults,
)
from hyperpod_deps.core import wire

NOW = 2_000_000_000.0


def node(
    health: str | None = "Schedulable",
    ready: str = "True",
    rv: str = "5",
    details: Any = None,
    ready_since: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    annotations = {wire.FAULT_DETAILS_ANNOTATION: details} if details is not None else {}
    return {
        "metadata": {
            "name": "n1",
            "uid": "u1",
            "resourceVersion": rv,
            "labels": {wire.NODE_HEALTH_LABEL: health} if health else {},
            "annotations": annotations,
        },
        "status": {"conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": ready_since}]},
    }


def test_a_healthy_node_has_no_fault() -> None:
    assert node_faults(node_view(node()), [], NOW) == []
    assert node_faults(node_view(node(health=None)), [], NOW) == []


def test_every_unschedulable_value_is_a_fault() -> None:
    for value in ("Unschedulable", "UnschedulablePendingReboot", "UnschedulablePendingReplacement"):
        [fault] = node_faults(node_view(node(value)), [], NOW)
        assert fault.trigger is Trigger.UNSCHEDULABLE
        assert value in fault.detail


def test_an_episode_keeps_its_identity_while_the_node_changes() -> None:
    [first] = node_faults(node_view(node("UnschedulablePendingReboot", rv="7")), [], NOW)
    assert first.since == "rv7"
    assert first.started == NOW
    [later] = node_faults(node_view(node("UnschedulablePendingReplacement", rv="9")), [first], NOW + 30)
    assert later.key == first.key
    assert later.started == NOW
    assert "PendingReplacement" in later.detail


def test_a_new_episode_after_recovery_has_a_new_identity() -> None:
    [first] = node_faults(node_view(node("Unschedulable", rv="7")), [], NOW)
    assert node_faults(node_view(node("Schedulable", rv="8")), [first], NOW) == []
    [again] = node_faults(node_view(node("Unschedulable", rv="12")), [], NOW + 60)
    assert again.key != first.key


def test_the_health_agents_fault_time_marks_the_episode() -> None:
    details = json.dumps(
        [
            {
                "timestamp": "2026-01-01T00:00:05Z",
                "type": "NvidiaGPUUnhealthy",
                "reason": "Xid",
                "message": "79",
            },
            {"timestamp": "2026-01-01T00:00:01Z"},
        ]
    )
    [fault] = node_faults(node_view(node("UnschedulablePendingReplacement", details=details)), [], NOW)
    assert fault.since == "2026-01-01T00:00:05Z"
    assert fault.started == parse_time("2026-01-01T00:00:05Z")


def test_garbage_fault_details_fall_back_to_the_resource_version() -> None:
    for garbage in ("{", "[1, 2]", "{}", '[{"timestamp": null}]'):
        [fault] = node_faults(node_view(node("Unschedulable", details=garbage, rv="3")), [], NOW)
        assert fault.since == "rv3"


def test_not_ready_is_marked_by_its_transition_time() -> None:
    [fault] = node_faults(node_view(node(ready="Unknown", ready_since="2026-01-02T00:00:00Z")), [], NOW)
    assert fault.trigger is Trigger.NOT_READY
    assert fault.since == "2026-01-02T00:00:00Z"
    assert fault.started == parse_time("2026-01-02T00:00:00Z")


def test_a_node_with_both_faults_reports_both() -> None:
    faults = node_faults(node_view(node("Unschedulable", ready="False")), [], NOW)
    assert {f.trigger for f in faults} == {Trigger.UNSCHEDULABLE, Trigger.NOT_READY}


def test_a_replaced_node_with_the_same_name_is_a_new_node() -> None:
    [first] = node_faults(node_view(node("Unschedulable")), [], NOW)
    replaced = node("Unschedulable", rv="20")
    replaced["metadata"]["uid"] = "u2"
    [second] = node_faults(node_view(replaced), [first], NOW)
    assert second.key != first.key


def test_deleted_node() -> None:
    fault = deleted_fault("n1", "u1", NOW)
    assert fault.trigger is Trigger.NODE_DELETED
    assert fault.key == deleted_fault("n1", "u1", NOW + 5).key


def pod(exit_code: int | None = None, signal: int | None = None, last: bool = True) -> dict[str, Any]:
    terminated: dict[str, Any] = {"finishedAt": "2026-01-01T00:00:09Z"}
    if exit_code is not None:
        terminated["exitCode"] = exit_code
    if signal is not None:
        terminated["signal"] = signal
    state = {"lastState" if last else "state": {"terminated": terminated}}
    return {
        "metadata": {"uid": "p1"},
        "spec": {"nodeName": "n1"},
        "status": {"containerStatuses": [{"name": "pytorch", "restartCount": 1, **state}]},
    }


def test_pod_signals_are_off_unless_configured() -> None:
    assert pod_signal_faults(pod(exit_code=135), frozenset(), NOW) == []


def test_a_container_killed_by_a_configured_signal() -> None:
    [fault] = pod_signal_faults(pod(exit_code=135), frozenset({7}), NOW)
    assert fault.trigger is Trigger.POD_SIGNAL
    assert (fault.pod_uid, fault.node) == ("p1", "n1")
    assert "signal 7" in fault.detail
    assert pod_signal_faults(pod(signal=7, last=False), frozenset({7}), NOW)[0].key == fault.key


def test_other_exits_are_not_pod_faults() -> None:
    assert pod_signal_faults(pod(exit_code=1), frozenset({7}), NOW) == []
    assert pod_signal_faults(pod(exit_code=137), frozenset({7}), NOW) == []
