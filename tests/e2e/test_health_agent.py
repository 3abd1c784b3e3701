"""The open health agent end to end: local agent processes, one per simulated node, each
reading its own kernel log file and writing as the chart's ServiceAccount, against a control
plane of this module's own (one test restarts its API server)."""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hyperpod_deps.core import wire
from hyperpod_deps.core.nodestate import Condition, NodeUpdate
from hyperpod_deps.kube.client import Kube as KubeClient
from hyperpod_deps.kube.nodes import get_node, update_node
from hyperpod_deps.localcluster import cluster
from hyperpod_deps.localcluster.nodespec import from_pairs
from hyperpod_deps.toolchain.helm import kubectl_path
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries
from tests.support.health_agent_support import (
    XID13,
    XID74,
    XID79,
    Agent,
    NodeState,
    agent_kubeconfig,
    create_node,
    events,
    install_agent_rbac,
    reboot,
    settle,
    stop_all,
    syslog,
)
from tests.support.kube_support import Kube
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPLACE = wire.UNSCHEDULABLE_PENDING_REPLACEMENT
REBOOT = wire.UNSCHEDULABLE_PENDING_REBOOT
# Xid 74 as a reboot that escalates to replace when it recurs (the shipped rule replaces at once).
XID74_REBOOTS = {"source": "kmsg", "rules": [{"id": "xid-74", "action": "reboot", "escalation": "replace"}]}


@dataclass
class World:
    """This module's cluster: its name, kubectl as admin, and the agents' kubeconfig."""

    name: str
    kube: Kube
    admin: Path
    kubeconfig: Path  # the chart's ServiceAccount
    workdir: Path
    count: int = 0

    def node_name(self) -> str:
        self.count += 1
        return f"health-node-{self.count}"


@pytest.fixture(scope="module")
def world(control_plane_binaries: ControlPlaneBinaries,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    name = f"health-{os.getpid()}"
    workdir = tmp_path_factory.mktemp("health-agent")
    admin = workdir / "admin.kubeconfig"
    cluster.up(name, from_pairs([("ml.m5.2xlarge", 1)]), admin, binaries=control_plane_binaries)
    try:
        kube = Kube((str(kubectl_path()), "--kubeconfig", str(admin)))
        install_agent_rbac(kube)
        yield World(name, kube, admin, agent_kubeconfig(kube, admin, workdir / "agent.kubeconfig"), workdir)
    finally:
        cluster.down(name, purge=True)


Fleet = Callable[..., list[Agent]]


@pytest.fixture
def fleet(world: World) -> Iterator[Fleet]:
    """Makes nodes with an agent each (started), and removes them after the test."""
    made: list[Agent] = []

    def make(count: int, platform: str = "generic", rules: tuple[dict[str, object], ...] = ()) -> list[Agent]:
        agents = []
        for _ in range(count):
            node = world.node_name()
            create_node(world.kube, node)
            agents.append(Agent(node, world.workdir / node, world.kubeconfig, platform, list(rules)))
        made.extend(agents)
        for agent in agents:
            agent.start()
        return agents

    yield make
    stop_all(made)
    world.kube.delete("node", [agent.node for agent in made])


def state(world: World, agent: Agent) -> NodeState:
    return NodeState.of(world.kube, agent.node)


def wait_health(world: World, agent: Agent, value: str, timeout: float = 30) -> NodeState:
    """The node once its health label is `value`. The agent writes the label with its taint and
    annotations, after the conditions it rests on and before clearing any (kube/nodes.py): all
    of that may be read from the node returned. Events come after the node write: poll them."""
    return poll(lambda: state(world, agent), lambda s: s.health == value,
                f"{agent.node} to be {value}", timeout)


def untouched(node: NodeState) -> bool:
    return (node.health == wire.SCHEDULABLE and not node.tainted
            and wire.FAULT_DETAILS_ANNOTATION not in node.annotations
            and not any(t.startswith("Nvidia") for t in node.conditions))


# --- detection ------------------------------------------------------------------------------


def test_xid_79_quarantines_exactly_that_node(world: World, fleet: Fleet) -> None:
    faulty, bystander = fleet(2)
    faulty.append(syslog(XID79.format(pid=101)))
    node = wait_health(world, faulty, REPLACE)
    assert node.tainted
    assert node.labels[wire.FAULT_TYPES_LABEL] == "NvidiaGPUUnhealthy"
    assert node.labels[wire.FAULT_REASONS_LABEL] == "XidHardwareFailure"
    condition = node.conditions["NvidiaGPUUnhealthy"]
    assert (condition["status"], condition["reason"]) == ("True", "XidHardwareFailure")
    assert [d["reason"] for d in node.details()] == ["XidHardwareFailure"]
    assert "fallen off the bus" in node.details()[0]["message"]
    recorded = poll(lambda: events(world.kube, faulty.node), bool, "the fault's event", 15)
    summary = [(e["type"], e["reason"], e["action"]) for e in recorded]
    assert summary == [("Warning", "XidHardwareFailure", "replace")]
    [detection] = faulty.detections()
    assert list(detection) == ["level", "ts", "msg", "details: ", "HealthMonitoringAgentDetectionEvent"]
    assert detection["details: "]["reason"] == "XidHardwareFailure"
    assert detection["HealthMonitoringAgentDetectionEvent"] == "HealthEvent"
    assert 'hyperpod_health_faults_total{action="replace",type="NvidiaGPUUnhealthy"} 1.0' in faulty.metrics()
    assert untouched(state(world, bystander))
    assert events(world.kube, bystander.node) == []


def test_an_application_xid_gives_an_event_and_nothing_else(world: World, fleet: Fleet) -> None:
    [agent] = fleet(1)
    agent.append(syslog(XID13.format(pid=7)))
    recorded = poll(lambda: events(world.kube, agent.node), bool, "the Xid 13 event", 15)
    assert [e["reason"] for e in recorded] == ["XidUserAppError"]
    settle(1)
    node = state(world, agent)
    assert untouched(node)
    assert "NvidiaGPUApplicationError" not in node.conditions


def test_garbage_never_stops_the_agent(world: World, fleet: Fleet) -> None:
    [agent] = fleet(1)
    agent.append(bytes(range(256)) * 50 + b"\n\xff\xfe\x00NVRM: Xid (\n" + b"x" * 200_000 + b"\n")
    agent.append("NVRM: Xid (PCI:0000:b9:00): not-a-number, pid=1\n\n\n")
    settle(1)
    assert agent.alive
    agent.append(syslog(XID79.format(pid=9)))
    wait_health(world, agent, REPLACE)
    assert agent.alive


# --- what people set -------------------------------------------------------------------------


def test_a_persons_labels_are_respected(world: World, fleet: Fleet) -> None:
    replaced, lowered = fleet(2, rules=(XID74_REBOOTS,))
    world.kube.run("label", "node", replaced.node, f"{wire.NODE_HEALTH_LABEL}={REPLACE}", "--overwrite")
    poll(lambda: state(world, replaced), lambda s: s.tainted, "the taint to follow the person's label", 15)
    replaced.append(syslog(XID74.format(pid=1)))  # a reboot-level fault: never lowers a replacement
    poll(lambda: state(world, replaced), lambda s: "NvidiaNVLinkUnhealthy" in s.conditions,
         "the fault's condition", 15)
    assert state(world, replaced).health == REPLACE

    lowered.append(syslog(XID74.format(pid=2)))
    wait_health(world, lowered, REBOOT)
    world.kube.run("label", "node", lowered.node, f"{wire.NODE_HEALTH_LABEL}={wire.SCHEDULABLE}",
                   "--overwrite")
    poll(lambda: state(world, lowered), lambda s: not s.tainted, "the taint to go with the label", 15)
    settle(3)  # longer than the re-assert interval: the agent must not set it back
    assert state(world, lowered).health == wire.SCHEDULABLE


# --- restarts --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_an_agent_restart_neither_repeats_nor_loses_anything(world: World, fleet: Fleet,
                                                            how: signal.Signals) -> None:
    [agent] = fleet(1, rules=(XID74_REBOOTS,))
    agent.append(syslog(XID74.format(pid=1)))
    wait_health(world, agent, REBOOT)
    poll(lambda: events(world.kube, agent.node), lambda e: len(e) == 1, "the first event", 15)
    poll(agent.read_everything, bool, "the read position to be saved", 15)  # or SIGKILL loses it
    agent.stop(how)
    agent.append(syslog(XID79.format(pid=2)))  # written while the agent is down
    agent.start()
    wait_health(world, agent, REPLACE)
    poll(lambda: events(world.kube, agent.node), lambda e: len(e) == 2, "the second event", 15)
    settle(3)
    assert [d["reason"] for d in state(world, agent).details()] == ["NvlinkError", "XidHardwareFailure"]
    reasons = sorted(e["reason"] for e in events(world.kube, agent.node))
    assert reasons == ["NvlinkError", "XidHardwareFailure"]
    assert len(agent.detections()) == 2


def test_an_api_server_restart_neither_repeats_nor_loses_anything(world: World, fleet: Fleet) -> None:
    first, second = fleet(2)
    first.append(syslog(XID79.format(pid=1)))
    wait_health(world, first, REPLACE)
    poll(lambda: events(world.kube, first.node), lambda e: len(e) == 1, "the first event", 15)
    cluster.stop_component(world.name, "kube-apiserver", grace_seconds=2)
    try:
        second.append(syslog(XID79.format(pid=2)))  # found while the API server is away
        poll(second.detections, bool, "the detection while the API server is down", 15)
        settle(2)
        assert first.alive and second.alive
    finally:
        cluster.start_component(world.name, "kube-apiserver")
    wait_health(world, second, REPLACE, timeout=60)
    poll(lambda: events(world.kube, second.node), lambda e: len(e) == 1, "the second node's event", 30)
    settle(3)
    for agent in (first, second):
        assert len(state(world, agent).details()) == 1
        assert len(events(world.kube, agent.node)) == 1


# --- reboot, recovery, escalation --------------------------------------------------------------


@pytest.mark.parametrize("platform", ["generic", "hyperpod"])
def test_recovery_after_a_reboot_is_the_agents_only_on_generic(world: World, fleet: Fleet,
                                                               platform: str) -> None:
    [agent] = fleet(1, platform=platform, rules=(XID74_REBOOTS,))
    agent.append(syslog(XID74.format(pid=1)))
    wait_health(world, agent, REBOOT)
    reboot(world.kube, agent.node, "boot-2")
    node = poll(lambda: state(world, agent),
                lambda s: s.conditions["NvidiaNVLinkUnhealthy"]["status"] == "False",
                "the condition to flip after the reboot", 30)
    assert node.conditions["NvidiaNVLinkUnhealthy"]["reason"] == "NoFaultAfterReboot"
    if platform == "generic":
        assert node.health == wire.SCHEDULABLE and not node.tainted
        assert wire.FAULT_TYPES_LABEL not in node.labels
        recorded = poll(lambda: [e["reason"] for e in events(world.kube, agent.node)],
                        lambda reasons: "NodeRecovered" in reasons, "the recovery's event", 15)
        assert recorded.count("NodeRecovered") == 1
    else:  # HyperPod's control plane returns the node to service
        assert node.health == REBOOT and node.tainted


def test_a_fault_that_recurs_after_the_reboot_escalates_to_replacement(world: World, fleet: Fleet) -> None:
    [agent] = fleet(1, rules=(XID74_REBOOTS,))
    agent.append(syslog(XID74.format(pid=1)))
    wait_health(world, agent, REBOOT)
    reboot(world.kube, agent.node, "boot-2")
    wait_health(world, agent, wire.SCHEDULABLE)
    agent.append(syslog(XID74.format(pid=2)))
    node = wait_health(world, agent, REPLACE)
    assert node.tainted
    assert "recurred after a reboot" in node.details()[-1]["message"]


def test_the_service_account_may_do_no_more_than_the_agent_needs(world: World) -> None:
    def can(*args: str) -> bool:
        result = subprocess.run([str(kubectl_path()), "--kubeconfig", str(world.kubeconfig), "auth", "can-i",
                                 *args], capture_output=True, text=True, check=False)
        return result.stdout.strip() == "yes"

    assert can("update", "nodes") and can("update", "nodes/status") and can("watch", "nodes")
    assert can("create", "events.events.k8s.io", "--namespace", "default")
    for denied in (("patch", "nodes"), ("delete", "nodes"), ("create", "pods"), ("get", "secrets"),
                   ("patch", "nodes/status"), ("delete", "events.events.k8s.io")):
        assert not can(*denied), denied


def test_a_write_from_a_stale_copy_is_decided_again_on_the_fresh_node(world: World) -> None:
    """kube/nodes.py: the compare-and-swap meets a newer node, reads it and decides again."""
    name = world.node_name()
    create_node(world.kube, name)
    seen: list[str | None] = []

    def decide(node: dict[str, Any]) -> NodeUpdate:
        seen.append(node["metadata"]["labels"].get("person"))
        return NodeUpdate(labels={"agent": "yes"}, conditions=(Condition("Probe", "True", "Seen", "m"),))

    try:
        with KubeClient.connect(world.admin) as client:
            stale = get_node(client, name)
            world.kube.run("label", "node", name, "person=was-here")
            written, requests = update_node(client, name, decide, lambda: "2026-01-01T00:00:00Z", node=stale)
        assert seen == [None, "was-here"]
        assert requests == 4  # the refused status PUT, the read, the status PUT, the node PUT
        assert {"person": "was-here", "agent": "yes"}.items() <= written["metadata"]["labels"].items()
        node = NodeState.of(world.kube, name)
        assert node.labels["person"] == "was-here"
        assert node.conditions["Probe"]["status"] == "True"
        assert node.conditions["Ready"]["status"] == "True"
    finally:
        world.kube.delete("node", [name])
