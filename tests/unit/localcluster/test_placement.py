"""Readiness of DaemonSets and Deployments, and the node-by-node placement table's data, from API
objects shaped as `kubectl get -o json` returns them."""
from __future__ import annotations

from typing import Any

import pytest

from hyperpod_deps.localcluster.placement import (
    NO_INSTANCE_TYPE,
    WorkloadRef,
    daemonset_ready,
    deployment_ready,
    pending,
    placement,
    workload_statuses,
)

NS = "kube-system"


def daemonset(name: str, component: str, desired: int, ready: int | None = None, *, generation: int = 1,
              observed: int | None = 1, updated: int | None = None) -> dict[str, Any]:
    ready = desired if ready is None else ready
    status: dict[str, Any] = {"desiredNumberScheduled": desired, "numberReady": ready,
                              "numberAvailable": ready,
                              "updatedNumberScheduled": desired if updated is None else updated}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"kind": "DaemonSet", "metadata": _meta(name, component, generation=generation), "status": status}


def deployment(name: str, component: str, replicas: int = 1, ready: int | None = None, *,
               available: str = "True", old_pods: int = 0, observed: int = 1) -> dict[str, Any]:
    ready = replicas if ready is None else ready
    return {
        "kind": "Deployment", "metadata": _meta(name, component), "spec": {"replicas": replicas},
        "status": {"observedGeneration": observed, "replicas": replicas + old_pods,
                   "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                   "conditions": [{"type": "Available", "status": available}]},
    }


def replicaset(name: str, deployment_name: str) -> dict[str, Any]:
    owner = {"kind": "Deployment", "name": deployment_name, "controller": True}
    return {"kind": "ReplicaSet", "metadata": {**_meta(name, "x"), "ownerReferences": [owner]}}


def pod(name: str, owner_kind: str, owner: str, node: str | None, *,
        deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NS,
                                "ownerReferences": [{"kind": owner_kind, "name": owner, "controller": True}]}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"kind": "Pod", "metadata": metadata, "spec": {"nodeName": node} if node else {}}


def node(name: str, instance_type: str | None) -> dict[str, Any]:
    labels = {"node.kubernetes.io/instance-type": instance_type} if instance_type else {}
    return {"kind": "Node", "metadata": {"name": name, "labels": labels}}


def _meta(name: str, component: str, generation: int = 1) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "generation": generation,
            "labels": {"app.kubernetes.io/component": component}}


@pytest.mark.parametrize(("workload", "ready"), [
    (daemonset("d", "c", desired=3), True),
    (daemonset("d", "c", desired=3, ready=2), False),
    (daemonset("d", "c", desired=3, updated=2), False),  # a rolling update is still going
    # Just created: the controller has not seen it, and the zero counts would look "ready".
    (daemonset("d", "c", desired=0, ready=0, observed=None), False),
    (daemonset("d", "c", desired=3, generation=2, observed=1), False),  # the new spec not seen yet
    (daemonset("d", "c", desired=0, ready=0), True),  # observed, and no node matches: nothing to wait for
])
def test_daemonset_readiness(workload: dict[str, Any], ready: bool) -> None:
    assert daemonset_ready(workload) is ready


@pytest.mark.parametrize(("workload", "ready"), [
    (deployment("d", "c"), True),
    (deployment("d", "c", replicas=2, ready=1), False),
    (deployment("d", "c", available="False"), False),
    (deployment("d", "c", old_pods=1), False),  # an old ReplicaSet's pod still runs
    (deployment("d", "c", observed=0), False),
    (deployment("d", "c", replicas=0, ready=0, available="False"), True),
])
def test_deployment_readiness(workload: dict[str, Any], ready: bool) -> None:
    assert deployment_ready(workload) is ready


def test_statuses_use_the_components_chart_name_and_count_pods() -> None:
    objects = [deployment("dependencies-training-operator", "trainingOperators"),
               daemonset("nvidia", "nvidia-device-plugin", desired=3, ready=1),
               pod("p", "DaemonSet", "x", "n")]
    statuses = workload_statuses(objects, {"trainingOperators": "training-operators"})
    assert [(s.component, str(s.ref), s.ready_pods, s.desired, s.ready) for s in statuses] == [
        ("nvidia-device-plugin", "DaemonSet/nvidia", 1, 3, False),
        ("training-operators", "Deployment/dependencies-training-operator", 1, 1, True),
    ]
    assert [str(s.ref) for s in pending(statuses)] == ["DaemonSet/nvidia"]


def test_unlabelled_workloads_are_shown_as_such() -> None:
    obj = daemonset("d", "c", desired=1)
    del obj["metadata"]["labels"]
    (status,) = workload_statuses([obj])
    assert status.component == "unlabelled"


def test_placement_maps_pods_to_their_workloads_and_nodes() -> None:
    objects = [
        daemonset("nvidia", "nvidia-device-plugin", desired=2),
        daemonset("neuron", "neuron-device-plugin", desired=1),
        deployment("operator", "trainingOperators"),
        replicaset("operator-abc", "operator"),
        pod("nvidia-1", "DaemonSet", "nvidia", "p5-a"),
        pod("nvidia-2", "DaemonSet", "nvidia", "g5-a"),
        pod("neuron-1", "DaemonSet", "neuron", "trn1-a"),
        pod("operator-abc-1", "ReplicaSet", "operator-abc", "p5-a"),
        pod("operator-old-1", "ReplicaSet", "operator-abc", "m5-a", deleting=True),  # on its way out
        pod("pending", "DaemonSet", "nvidia", None),  # not scheduled yet: on no node
        pod("foreign", "ReplicaSet", "not-ours", "m5-a"),  # a ReplicaSet of no workload of the release
    ]
    nodes = [node("p5-a", "ml.p5.48xlarge"), node("trn1-a", "ml.trn1.32xlarge"),
             node("m5-a", "ml.m5.2xlarge"), node("g5-a", "ml.g5.8xlarge"), node("bare", None)]
    where = placement(objects, nodes, {"trainingOperators": "training-operators"})
    by_node = {n.node: (n.instance_type, [(w.component, str(w.ref)) for w in n.workloads])
               for n in where.nodes}
    assert by_node == {
        "p5-a": ("ml.p5.48xlarge", [("nvidia-device-plugin", "DaemonSet/nvidia"),
                                    ("training-operators", "Deployment/operator")]),
        "g5-a": ("ml.g5.8xlarge", [("nvidia-device-plugin", "DaemonSet/nvidia")]),
        "trn1-a": ("ml.trn1.32xlarge", [("neuron-device-plugin", "DaemonSet/neuron")]),
        "m5-a": ("ml.m5.2xlarge", []),
        "bare": (NO_INSTANCE_TYPE, []),
    }
    # Sorted by instance type, then name, so the same cluster always prints the same table.
    assert [n.node for n in where.nodes] == ["bare", "g5-a", "m5-a", "p5-a", "trn1-a"]
    nvidia_types = where.instance_types_of(WorkloadRef("DaemonSet", NS, "nvidia"))
    assert nvidia_types == ["ml.g5.8xlarge", "ml.p5.48xlarge"]
    assert where.instance_types_of(WorkloadRef("DaemonSet", NS, "missing")) == []


def test_a_node_running_two_pods_of_one_workload_lists_it_once() -> None:
    objects = [deployment("op", "mpi-operator", replicas=2), replicaset("op-1", "op"),
               pod("a", "ReplicaSet", "op-1", "n"), pod("b", "ReplicaSet", "op-1", "n")]
    (row,) = placement(objects, [node("n", "ml.m5.2xlarge")]).nodes
    assert [str(w.ref) for w in row.workloads] == ["Deployment/op"]
