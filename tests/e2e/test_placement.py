"""Where the installed chart runs on the default simulated HyperPod cluster (p5, g5, trn1 and a
CPU node): each DaemonSet exactly on the nodes of its hardware, as the instance-type table and
the nodes' labels say; device plugins and the health agent stay on a quarantined node, where
ordinary pods no longer go; every Deployment becomes Available.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hyperpod_deps.core.wire import NODE_HEALTH_LABEL, NODE_HEALTH_TAINT_EFFECT, NODE_HEALTH_TAINT_VALUE
from tests.support.expectations import (
    COMPONENT_LABEL,
    HEALTH_AGENT_COMPONENT,
    accelerated,
    deployment_available,
    expected_nodes,
    running_nodes,
    target_of,
    unschedulable_reason,
)
from tests.support.helm_support import RELEASE, HelmCli
from tests.support.kube_support import ApiObject, Kube
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INSTANCE_SELECTOR = f"app.kubernetes.io/instance={RELEASE}"
QUARANTINE_TAINT = f"{NODE_HEALTH_LABEL}={NODE_HEALTH_TAINT_VALUE}:{NODE_HEALTH_TAINT_EFFECT}"


def daemonsets(kube: Kube) -> list[ApiObject]:
    return kube.items("daemonsets", None, INSTANCE_SELECTOR)


def placement(kube: Kube) -> dict[str, set[str]]:
    """DaemonSet name -> the nodes where one of its pods runs."""
    pods = kube.items("pods", None, INSTANCE_SELECTOR)
    return {ds["metadata"]["name"]: running_nodes(pods, ds["metadata"]["uid"]) for ds in daemonsets(kube)}


def test_the_cluster_has_every_kind_of_node(installed: HelmCli, kube: Kube) -> None:
    # Guards the placement tests below against passing on a cluster that lacks a kind.
    nodes = kube.cluster_items("nodes")
    every_node = {n["metadata"]["name"] for n in nodes}
    wanted = {ds["metadata"]["name"]: expected_nodes(ds, nodes) for ds in daemonsets(kube)}
    assert {target_of(ds) for ds in daemonsets(kube)} == {"nvidia", "neuron", "efa"}
    assert all(wanted.values()), wanted
    assert every_node - set().union(*wanted.values()), "no node is left without DaemonSets (a CPU node)"


def test_each_daemonset_runs_exactly_on_the_nodes_of_its_hardware(installed: HelmCli, kube: Kube) -> None:
    nodes = kube.cluster_items("nodes")
    wanted = {ds["metadata"]["name"]: expected_nodes(ds, nodes) for ds in daemonsets(kube)}
    placed = poll(lambda: placement(kube), lambda found: found == wanted,
                  "each DaemonSet's pods to run exactly on its nodes")
    assert placed == wanted


def test_the_health_agent_covers_every_accelerated_node(installed: HelmCli, kube: Kube) -> None:
    agents = [ds for ds in daemonsets(kube)
              if ds["metadata"]["labels"].get(COMPONENT_LABEL) == HEALTH_AGENT_COMPONENT]
    nodes = kube.cluster_items("nodes")
    pods = kube.items("pods", None, INSTANCE_SELECTOR)
    covered = set().union(*(running_nodes(pods, ds["metadata"]["uid"]) for ds in agents))
    assert covered == accelerated(nodes)


def test_every_deployment_becomes_available(installed: HelmCli, kube: Kube) -> None:
    deployments = poll(lambda: kube.items("deployments", None, INSTANCE_SELECTOR),
                       lambda found: bool(found) and all(deployment_available(d) for d in found),
                       "every Deployment of the release to be Available")
    assert {d["metadata"]["name"] for d in deployments} >= {"dependencies-training-operators",
                                                           "dependencies-mpi-operator"}


@pytest.fixture
def quarantined_node(installed: HelmCli, kube: Kube) -> Iterator[str]:
    """The node running the most of the release's DaemonSets, marked as HyperPod marks a node to
    replace: the health label and the NoSchedule taint. Put back afterwards."""
    wanted = placement(kube)
    counts: dict[str, int] = {}
    for nodes in wanted.values():
        for node in nodes:
            counts[node] = counts.get(node, 0) + 1
    node = max(sorted(counts), key=lambda n: counts[n])
    kube.run("taint", "nodes", node, QUARANTINE_TAINT)
    kube.run("label", "nodes", node, f"{NODE_HEALTH_LABEL}=UnschedulablePendingReplacement", "--overwrite")
    try:
        yield node
    finally:
        kube.run("taint", "nodes", node, f"{NODE_HEALTH_LABEL}:{NODE_HEALTH_TAINT_EFFECT}-")
        kube.run("label", "nodes", node, f"{NODE_HEALTH_LABEL}=Schedulable", "--overwrite")


def test_a_quarantined_node_keeps_its_device_plugins_and_health_agent(
        quarantined_node: str, kube: Kube, fresh_namespace: Callable[[str], str]) -> None:
    before = placement(kube)
    expected_here = {name for name, nodes in before.items() if quarantined_node in nodes}
    assert expected_here, "the chosen node runs no DaemonSet"
    old_pods = [p for p in kube.items("pods", None, INSTANCE_SELECTOR)
                if p["spec"].get("nodeName") == quarantined_node]
    for namespace in sorted({p["metadata"]["namespace"] for p in old_pods}):
        names = [p["metadata"]["name"] for p in old_pods if p["metadata"]["namespace"] == namespace]
        kube.delete("pods", names, namespace)

    old_uids = {p["metadata"]["uid"] for p in old_pods}
    poll(lambda: fresh_pods_on(kube, quarantined_node, old_uids),
         lambda fresh: fresh == expected_here,
         f"the DaemonSets {sorted(expected_here)} to recreate their pods on {quarantined_node}")
    assert placement(kube) == before
    # The chart's own Deployments tolerate nothing: their pods from that node went elsewhere.
    kube.wait_release_ready(RELEASE)
    replaced = [p["metadata"]["name"] for p in kube.items("pods", None, INSTANCE_SELECTOR)
                if p["spec"].get("nodeName") == quarantined_node
                and any(ref["kind"] == "ReplicaSet" for ref in p["metadata"].get("ownerReferences") or [])]
    assert replaced == []

    namespace = fresh_namespace("e2e-quarantine")
    kube.create(plain_deployment(namespace, quarantined_node))
    pods = poll(lambda: kube.items("pods", namespace), lambda found: bool(found) and all(
        unschedulable_reason(p) for p in found), "the plain Deployment's pod to be refused by the scheduler")
    assert all(not p["spec"].get("nodeName") for p in pods)
    reasons = [unschedulable_reason(p) or "" for p in pods]
    # The scheduler names the cause, not the taint ("1 node(s) had untolerated taint(s)").
    assert all("untolerated taint" in reason for reason in reasons), reasons


def fresh_pods_on(kube: Kube, node: str, old_uids: set[str]) -> set[str]:
    """DaemonSets with a new Running pod on the node."""
    pods = [p for p in kube.items("pods", None, INSTANCE_SELECTOR)
            if p["spec"].get("nodeName") == node and p["metadata"]["uid"] not in old_uids]
    return {ref["name"] for p in pods if p.get("status", {}).get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
            for ref in p["metadata"].get("ownerReferences") or [] if ref["kind"] == "DaemonSet"}


def plain_deployment(namespace: str, node: str) -> dict[str, Any]:
    """A workload with no toleration, pinned to the node by its hostname label."""
    labels = {"app": "plain"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "plain", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                     "containers": [{"name": "plain", "image": "example.invalid/plain:1"}]}}},
    }
