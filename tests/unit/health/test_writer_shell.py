"""The node writer against the in-memory API: what reaches the node, in how many requests, and
what it does while the API server is away or someone else writes the node first."""
from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import cast

import pytest

from hyperpod_deps.core import wire
from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.metrics import Metrics
from hyperpod_deps.health.policy import GENERIC, HYPERPOD, PolicyConfig
from hyperpod_deps.health.writer import NodeWriter
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed
from hyperpod_deps.kube.nodes import NODE
from tests.support.fake_api import FakeApi, disconnected

NAME = "gpu-node-1"
XID79 = Fault("2026-12-06T20:00:00Z", "NvidiaGPUUnhealthy", "XidHardwareFailure",
              "Xid 79: GPU has fallen off the bus", Action.REPLACE, "kmsg/xid-79", "kmsg")
XID74 = Fault("2026-12-06T20:00:00Z", "NvidiaNVLinkUnhealthy", "NvlinkError",
              "Xid 74: NVLink error", Action.REBOOT, "kmsg/xid-74", "kmsg")
RECOVERY_DELAY_SECONDS = 60


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.seconds, UTC)


def node(**labels: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NAME, "labels": labels},
            "spec": {}, "status": {"conditions": [], "nodeInfo": {"bootID": "boot-1"}}}


def writer(api: FakeApi, clock: Clock, platform: str = HYPERPOD) -> NodeWriter:
    config = PolicyConfig(platform, 300, RECOVERY_DELAY_SECONDS, 2, lambda rule: None)
    return NodeWriter(cast(Kube, api), NAME, config, 60, 30, Metrics(), AgentLog(io.StringIO()), clock.wall,
                      clock.monotonic)


def quarantined(api: FakeApi, clock: Clock) -> NodeWriter:
    """A writer that has just written XID79 to the node."""
    write = writer(api, clock)
    write.add((XID79,), clock.monotonic())
    write.step()
    return write


def stored_node(api: FakeApi) -> Manifest:
    stored = api.get(NODE, NAME)
    assert stored is not None
    return stored


def event_reasons(api: FakeApi) -> list[str]:
    return [obj["reason"] for key, obj in api.objects.items() if key[0] == "events.events.k8s.io"]


def health(api: FakeApi) -> tuple[str | None, bool]:
    stored = api.get(NODE, NAME)
    assert stored is not None
    taints = stored["spec"].get("taints") or []
    return (stored["metadata"]["labels"].get(wire.NODE_HEALTH_LABEL),
            any(t["key"] == wire.NODE_HEALTH_LABEL for t in taints))


def test_a_replacement_fault_quarantines_the_node_at_once_and_records_one_event() -> None:
    api, clock = FakeApi(), Clock()
    api.put(node())
    write = quarantined(api, clock)
    assert health(api) == (wire.UNSCHEDULABLE_PENDING_REPLACEMENT, True)
    assert write.idle
    events = [obj for key, obj in api.objects.items() if key[0] == "events.events.k8s.io"]
    assert [e["reason"] for e in events] == ["XidHardwareFailure"]
    write.step()  # nothing pending: no second write, no second event
    assert [verb for verb, _ in api.calls].count("create") == 1


def test_while_the_api_server_is_away_the_fault_waits_and_is_written_once_it_is_back() -> None:
    api, clock = FakeApi(), Clock()
    api.put(node())
    api.fail("get", disconnected("GET nodes"), disconnected("GET nodes"))
    write = writer(api, clock)
    write.add((XID79,), clock.monotonic())
    write.step()
    # The loop sleeps out the backoff, a re-assert included: it never turns idly meanwhile.
    assert not write.idle and write.wait_seconds() == pytest.approx(0.2)
    clock.seconds += write.wait_seconds()
    write.step()
    assert not write.idle  # the second try failed too: the wait grew
    assert write.wait_seconds() > 0.2
    clock.seconds += write.wait_seconds()
    write.step()
    assert write.idle and health(api) == (wire.UNSCHEDULABLE_PENDING_REPLACEMENT, True)


def test_a_write_that_meets_a_newer_node_decides_again_and_keeps_the_other_writers_change() -> None:
    api, clock = FakeApi(), Clock()
    api.put(node())
    write = writer(api, clock)
    write.step()  # reads the node: its copy is now this version
    api.put(node(team="ml"))  # a person labels the node; the writer's copy is stale
    write.add((XID79,), clock.monotonic())
    write.step()
    stored = api.get(NODE, NAME)
    assert stored is not None and stored["metadata"]["labels"]["team"] == "ml"
    assert health(api) == (wire.UNSCHEDULABLE_PENDING_REPLACEMENT, True)
    assert ("update", "nodes") in api.calls


def test_the_periodic_read_does_not_undo_a_persons_lowered_label() -> None:
    api, clock = FakeApi(), Clock()
    api.put(node())
    write = quarantined(api, clock)
    stored = api.get(NODE, NAME)
    assert stored is not None
    stored["metadata"]["labels"][wire.NODE_HEALTH_LABEL] = wire.SCHEDULABLE
    api.put(stored)
    reads = api.calls.count(("get", "nodes"))
    clock.seconds += 61  # past the re-assert interval
    write.step()
    assert api.calls.count(("get", "nodes")) == reads + 1
    assert health(api)[0] == wire.SCHEDULABLE


@pytest.mark.parametrize("clearing_fails", [RequestFailed("UPDATE nodes: the object has been modified", 409),
                                            disconnected("PUT nodes/status")], ids=["conflict", "disconnect"])
def test_a_recovery_whose_clearing_fails_still_records_its_event(clearing_fails: Exception) -> None:
    """The label write carries the recovery (and the memory that it happened); a failure of the
    clearing after it makes the writer decide again from a node that no longer needs a recovery.
    The event belongs to the decision that was written, not only to the last one."""
    api, clock = FakeApi(), Clock()
    api.put(node())
    write = writer(api, clock, platform=GENERIC)
    write.add((XID74,), clock.monotonic())
    write.step()
    assert health(api) == (wire.UNSCHEDULABLE_PENDING_REBOOT, True)
    rebooted = stored_node(api)
    rebooted["status"]["nodeInfo"]["bootID"] = "boot-2"
    write.observe(api.put(rebooted))  # the kubelet after the reboot, seen by the watch
    write.step()  # the new boot is noted, debounced: the recovery delay starts
    clock.seconds += write.wait_seconds()
    write.step()
    assert health(api) == (wire.UNSCHEDULABLE_PENDING_REBOOT, True)
    clock.seconds += RECOVERY_DELAY_SECONDS
    api.fail("update", None, clearing_fails)
    write.step()
    clock.seconds += write.wait_seconds()  # after a disconnect: the backoff
    write.step()
    assert health(api) == (wire.SCHEDULABLE, False)
    conditions = {c["type"]: c for c in stored_node(api)["status"]["conditions"]}
    assert conditions["NvidiaNVLinkUnhealthy"]["status"] == "False"
    assert event_reasons(api) == ["NvlinkError", "NodeRecovered"]
