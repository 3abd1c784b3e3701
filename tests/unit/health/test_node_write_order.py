"""The order of a node update's requests (kube/nodes.py), against an in-memory API server.

Readers act on the health label and taint and look up the condition named by the fault-types
label. Every state of the node that a reader could have read is recorded, and each must explain
its label: a condition set True is written before the label and taint that rest on it, and
cleared only after they are gone, also when a conflict (409) cuts an update in two.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Set
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hyperpod_deps.core import wire
from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.nodestate import Condition, NodeUpdate, apply_metadata, has_health_taint
from hyperpod_deps.health import labels
from hyperpod_deps.health.policy import GENERIC, PolicyConfig, decide
from hyperpod_deps.health.state import NodeView
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import RequestFailed
from hyperpod_deps.kube.nodes import StillConflicting, update_node

HEALTH, TYPES = wire.NODE_HEALTH_LABEL, wire.FAULT_TYPES_LABEL
GPU, NVLINK = "NvidiaGPUUnhealthy", "NvidiaNVLinkUnhealthy"
READY = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}
STAMP = "2026-01-01T00:00:00Z"


class FakeApiServer(Kube):
    """One Node, kept as the API server keeps it: a PUT must carry the stored resourceVersion
    (else 409); a Node PUT keeps the stored status, a status PUT keeps everything else.

    `requests` lists what was asked ("get", "node", "status"; a refused PUT ends in "!");
    `states` every version of the node a reader could have read. `interfere_at` holds indexes of
    requests before which another client (a kubelet heartbeat) writes the node first."""

    def __init__(self, node: Manifest, interfere_at: Set[int] | Callable[[int], bool] = frozenset()) -> None:
        # No super().__init__(): nothing here talks to a cluster.
        self.stored = copy.deepcopy(node)
        self.stored["metadata"]["resourceVersion"] = "1"
        self.states = [copy.deepcopy(self.stored)]
        self.requests: list[str] = []
        self.interferes = interfere_at if callable(interfere_at) else interfere_at.__contains__

    def get(self, rtype: ResourceType, name: str, namespace: str | None = None) -> Manifest | None:
        self._request("get")
        return copy.deepcopy(self.stored)

    def replace(self, manifest: Manifest, subresource: str | None = None) -> Manifest:
        kind = subresource or "node"
        self._request(kind)
        if manifest["metadata"]["resourceVersion"] != self.stored["metadata"]["resourceVersion"]:
            self.requests[-1] += "!"
            raise RequestFailed("the object has been modified", 409)
        new = copy.deepcopy(self.stored)
        if kind == "status":
            new["status"] = copy.deepcopy(manifest["status"])
        else:
            new["metadata"] = copy.deepcopy(manifest["metadata"])
            new["spec"] = copy.deepcopy(manifest["spec"])
        self._store(new)
        return copy.deepcopy(new)

    def write(self, change: Callable[[Manifest], None]) -> None:
        """Another client's write (the kubelet's): a new version of the node."""
        new = copy.deepcopy(self.stored)
        change(new)
        self._store(new)

    def _request(self, kind: str) -> None:
        if self.interferes(len(self.requests)):
            self.write(heartbeat)
        self.requests.append(kind)

    def _store(self, node: Manifest) -> None:
        node["metadata"]["resourceVersion"] = str(int(self.stored["metadata"]["resourceVersion"]) + 1)
        self.stored = node
        self.states.append(copy.deepcopy(node))


def heartbeat(node: Manifest) -> None:
    node["status"]["heartbeats"] = node["status"].get("heartbeats", 0) + 1


def node(health: str, fault_type: str | None = None, tainted: bool = False,
         conditions: tuple[Condition, ...] = ()) -> Manifest:
    node_labels = {HEALTH: health, **({TYPES: fault_type} if fault_type else {})}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": node_labels, "annotations": {}},
            "spec": {"taints": [{"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}]}
            if tainted else {},
            "status": {"nodeInfo": {"bootID": "boot-1"}, "conditions": [dict(READY)] + [
                {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
                for c in conditions]}}


def true(kind: str) -> Condition:
    return Condition(kind, "True", "XidHardwareFailure", f"{kind} fault")


def false(kind: str) -> Condition:
    return Condition(kind, "False", "NoFaultAfterReboot", f"no {kind} fault since the reboot")


def toward(target: Manifest, decisions: list[NodeUpdate] | None = None) -> Callable[[Manifest], NodeUpdate]:
    """Decides from the node alone, as the agent does: what differs from `target`."""
    want = NodeView.of(target)

    def decide_(current: Manifest) -> NodeUpdate:
        view = NodeView.of(current)
        keys = {*want.labels, *view.labels}
        update = NodeUpdate(
            {k: want.labels.get(k) for k in keys if view.labels.get(k) != want.labels.get(k)},
            {}, None if view.health_taint == want.health_taint else want.health_taint,
            tuple(c for t, c in want.conditions.items() if view.conditions.get(t) != c))
        if decisions is not None:
            decisions.append(update)
        return update
    return decide_


def explained(state: Manifest) -> bool:
    """The label and the taint (the marks readers act on) rest on a True condition."""
    view = NodeView.of(state)
    if not (wire.is_unschedulable(view.health) or has_health_taint(state)):
        return True
    condition = view.conditions.get(view.labels.get(TYPES, ""))
    return condition is not None and condition.status == "True"


def same_marks(a: Manifest, b: Manifest) -> bool:
    def marks(m: Manifest) -> tuple[Any, ...]:
        view = NodeView.of(m)
        conditions = {t: c for t, c in view.conditions.items() if t != "Ready"}
        return dict(view.labels), view.health_taint, conditions
    return marks(a) == marks(b)


def run(start: Manifest, target: Manifest, interfere_at: Set[int] | Callable[[int], bool] = frozenset(),
        decisions: list[NodeUpdate] | None = None) -> tuple[FakeApiServer, int]:
    server = FakeApiServer(start, interfere_at)
    written, requests = update_node(server, "n1", toward(target, decisions), lambda: STAMP,
                                    node=copy.deepcopy(server.stored))
    assert same_marks(written, target) and same_marks(server.stored, target)
    assert requests == len(server.requests)
    return server, requests


HEALTHY = node(wire.SCHEDULABLE)
REBOOTING = node(wire.UNSCHEDULABLE_PENDING_REBOOT, NVLINK, True, (true(NVLINK),))
REPLACING = node(wire.UNSCHEDULABLE_PENDING_REPLACEMENT, GPU, True, (true(GPU),))
RECOVERED = node(wire.SCHEDULABLE, conditions=(false(NVLINK),))
# Escalated: a new fault quarantines harder while the old one's condition is cleared.
ESCALATED = node(wire.UNSCHEDULABLE_PENDING_REPLACEMENT, GPU, True, (true(GPU), false(NVLINK)))


def test_the_fixtures_explain_their_labels_and_the_check_can_fail() -> None:
    assert all(explained(n) for n in (HEALTHY, REBOOTING, REPLACING, RECOVERED, ESCALATED))
    assert not explained(node(wire.UNSCHEDULABLE_PENDING_REPLACEMENT, GPU, True))
    assert not explained(node(wire.UNSCHEDULABLE_PENDING_REBOOT, NVLINK, True, (false(NVLINK),)))
    assert not explained(node(wire.SCHEDULABLE, GPU, True))  # a taint alone is a mark too


def test_a_quarantine_writes_the_condition_before_the_label_and_taint() -> None:
    server, requests = run(HEALTHY, REPLACING)
    assert server.requests == ["status", "node"]
    assert all(explained(state) for state in server.states)
    assert requests == 2


def test_a_recovery_removes_the_label_and_taint_before_clearing_the_condition() -> None:
    server, _ = run(REBOOTING, RECOVERED)
    assert server.requests == ["node", "status"]
    assert all(explained(state) for state in server.states)


def test_raising_one_condition_and_clearing_another_brackets_the_label() -> None:
    server, _ = run(REBOOTING, ESCALATED)
    assert server.requests == ["status", "node", "status"]
    assert all(explained(state) for state in server.states)
    raised, relabelled = NodeView.of(server.states[1]), NodeView.of(server.states[2])
    assert raised.health == wire.UNSCHEDULABLE_PENDING_REBOOT
    assert (raised.conditions[GPU].status, raised.conditions[NVLINK].status) == ("True", "True")
    assert relabelled.health == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert relabelled.conditions[NVLINK].status == "True"


@pytest.mark.parametrize(("start", "target", "expected"), [
    (HEALTHY, HEALTHY, []),
    (HEALTHY, node(wire.UNSCHEDULABLE_PENDING_REBOOT, tainted=True), ["node"]),  # a person's label
    (REBOOTING, node(wire.UNSCHEDULABLE_PENDING_REBOOT, NVLINK, True, (true(NVLINK), true(GPU))), ["status"]),
    (node(wire.SCHEDULABLE, conditions=(true(GPU),)), node(wire.SCHEDULABLE, conditions=(false(GPU),)),
     ["status"]),
], ids=["nothing", "labels-only", "raise-only", "clear-only"])
def test_only_the_parts_that_change_are_written(start: Manifest, target: Manifest,
                                                expected: list[str]) -> None:
    server, requests = run(start, target)
    assert server.requests == expected
    assert requests == len(expected)


@pytest.mark.parametrize(("conflict_at", "expected"), [
    (0, ["status!", "get", "status", "node", "status"]),
    (1, ["status", "node!", "get", "node", "status"]),
    (2, ["status", "node", "status!", "get", "status"]),
], ids=["before-the-raise", "before-the-label", "before-the-clearing"])
def test_a_conflict_part_way_decides_again_from_what_was_written(conflict_at: int,
                                                                 expected: list[str]) -> None:
    decisions: list[NodeUpdate] = []
    server, requests = run(REBOOTING, ESCALATED, {conflict_at}, decisions)
    assert server.requests == expected
    assert requests == len(expected)  # the refused PUT and the read count
    assert all(explained(state) for state in server.states)  # the heartbeat's versions included
    assert len(decisions) == 2
    assert decisions[1].raised == (() if conflict_at > 0 else (true(GPU),))
    assert bool(decisions[1].labels) is (conflict_at < 2)


def test_a_node_that_keeps_changing_gives_up_after_the_attempts() -> None:
    server = FakeApiServer(HEALTHY, lambda index: True)
    with pytest.raises(StillConflicting):
        update_node(server, "n1", toward(REPLACING), lambda: STAMP, attempts=3)
    assert server.requests == ["get", "status!"] * 3
    assert all(explained(state) for state in server.states)


# --- with the agent's own policy -----------------------------------------------------------------

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = PolicyConfig(GENERIC, dedupe_window_seconds=60, recovery_delay_seconds=30, debounce_seconds=2,
                      escalation=lambda rule: None)
XID74 = Fault(labels.timestamp(T0), NVLINK, "NvlinkError", "NVLink: fatal error", Action.REBOOT,
              "kmsg/xid-74", "kmsg")


def agent_write(server: FakeApiServer, faults: list[Fault], now: datetime) -> None:
    update_node(server, "n1", lambda current: decide(NodeView.of(current), faults, {}, POLICY, now).update,
                lambda: labels.timestamp(now))


def test_the_agents_recovery_clears_the_condition_even_when_the_clearing_meets_a_conflict() -> None:
    """The clearing comes after the label write that updates the agent's memory: had the memory
    forgotten the condition there, deciding again after the 409 would leave it True for good."""
    server = FakeApiServer(HEALTHY)
    agent_write(server, [XID74], T0)
    assert NodeView.of(server.stored).health == wire.UNSCHEDULABLE_PENDING_REBOOT
    server.write(lambda n: n["status"]["nodeInfo"].update(bootID="boot-2"))  # the kubelet after a reboot
    agent_write(server, [], T0 + timedelta(seconds=1))  # the new boot is recorded: the delay runs
    recovery = len(server.requests)
    server.interferes = {recovery + 2}.__contains__  # after the label write, before the clearing
    agent_write(server, [], T0 + timedelta(seconds=40))
    assert server.requests[recovery:] == ["get", "node", "status!", "get", "status"]
    view = NodeView.of(server.stored)
    assert view.health == wire.SCHEDULABLE and not view.health_taint
    assert (view.conditions[NVLINK].status, view.conditions[NVLINK].reason) == ("False", "NoFaultAfterReboot")
    assert all(explained(state) for state in server.states)
    # Remembered until the node shows it cleared; the next decision forgets it, without hurry.
    assert NVLINK in view.memory.conditions
    tidy = decide(view, [], {}, POLICY, T0 + timedelta(seconds=41))
    assert not tidy.urgent and tidy.update.conditions == () and not tidy.update.labels
    tidied = apply_metadata(server.stored, tidy.update)
    assert tidied is not None and NVLINK not in NodeView.of(tidied).memory.conditions
