"""Which workload of a release runs on which node, and whether each workload is ready.

Pure functions over API objects as `kubectl get -o json` returns them: no I/O, no clock.
Readiness follows what `kubectl rollout status` checks, plus the observed generation, so a
workload the controller has not looked at yet is never reported ready.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hyperpod_deps.core.wire import INSTANCE_TYPE_LABEL

ApiObject = Mapping[str, Any]

COMPONENT_LABEL = "app.kubernetes.io/component"
WORKLOAD_KINDS = ("DaemonSet", "Deployment")
NO_INSTANCE_TYPE = "-"


@dataclass(frozen=True, order=True)
class WorkloadRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class WorkloadStatus:
    ref: WorkloadRef
    component: str
    desired: int
    ready_pods: int
    ready: bool  # every desired pod is up to date and available, as the controller last observed


@dataclass(frozen=True)
class PlacedWorkload:
    component: str
    ref: WorkloadRef


@dataclass(frozen=True)
class NodePlacement:
    node: str
    instance_type: str
    workloads: tuple[PlacedWorkload, ...]  # sorted by component, then workload


@dataclass(frozen=True)
class Placement:
    workloads: tuple[WorkloadStatus, ...]
    nodes: tuple[NodePlacement, ...]  # every node, those running nothing of the release too

    def instance_types_of(self, ref: WorkloadRef) -> list[str]:
        return sorted({n.instance_type for n in self.nodes if any(w.ref == ref for w in n.workloads)})


def workload_statuses(objects: Iterable[ApiObject],
                      component_names: Mapping[str, str] | None = None) -> tuple[WorkloadStatus, ...]:
    """The DaemonSets and Deployments among the objects, sorted by component then workload.

    component_names maps a component label (the umbrella's values key, e.g. `trainingOperators`)
    to the name people know the component by (its chart, `training-operators`).
    """
    names = component_names or {}
    statuses = [_status(obj, names) for obj in objects if obj.get("kind") in WORKLOAD_KINDS]
    return tuple(sorted(statuses, key=lambda s: (s.component, s.ref)))


def pending(statuses: Iterable[WorkloadStatus]) -> tuple[WorkloadStatus, ...]:
    return tuple(s for s in statuses if not s.ready)


def placement(objects: Iterable[ApiObject], nodes: Iterable[ApiObject],
              component_names: Mapping[str, str] | None = None) -> Placement:
    """Workloads and, per node, the workloads whose pods it runs (pods being deleted left out)."""
    objects = list(objects)
    statuses = workload_statuses(objects, component_names)
    component_of = {s.ref: s.component for s in statuses}
    deployment_of = _replicaset_owners(objects)
    on_node: dict[str, set[PlacedWorkload]] = defaultdict(set)
    for pod in objects:
        if pod.get("kind") != "Pod" or _metadata(pod).get("deletionTimestamp"):
            continue
        node = (pod.get("spec") or {}).get("nodeName")
        owner = _pod_workload(pod, deployment_of)
        if node and owner in component_of:
            on_node[node].add(PlacedWorkload(component_of[owner], owner))
    rows = [
        NodePlacement(name, _instance_type(node),
                      tuple(sorted(on_node.get(name, ()), key=lambda w: (w.component, w.ref))))
        for node in nodes
        for name in [str(_metadata(node).get("name"))]
    ]
    return Placement(statuses, tuple(sorted(rows, key=lambda r: (r.instance_type, r.node))))


def daemonset_ready(daemonset: ApiObject) -> bool:
    status = daemonset.get("status") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    return _observed(daemonset) and all(
        int(status.get(field) or 0) == desired
        for field in ("updatedNumberScheduled", "numberAvailable", "numberReady"))


def deployment_ready(deployment: ApiObject) -> bool:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    available = any(c.get("type") == "Available" and c.get("status") == "True"
                    for c in status.get("conditions") or [])
    counts_match = all(int(status.get(field) or 0) == wanted
                       for field in ("replicas", "updatedReplicas", "availableReplicas", "readyReplicas"))
    # A Deployment scaled to zero has no Available condition worth waiting for.
    return _observed(deployment) and counts_match and (available or wanted == 0)


def _status(obj: ApiObject, component_names: Mapping[str, str]) -> WorkloadStatus:
    metadata, status = _metadata(obj), obj.get("status") or {}
    label = str((metadata.get("labels") or {}).get(COMPONENT_LABEL) or "unlabelled")
    ref = WorkloadRef(str(obj["kind"]), str(metadata.get("namespace", "")), str(metadata.get("name")))
    if ref.kind == "DaemonSet":
        desired, ready_pods, ready = (int(status.get("desiredNumberScheduled") or 0),
                                      int(status.get("numberReady") or 0), daemonset_ready(obj))
    else:
        desired, ready_pods, ready = (int((obj.get("spec") or {}).get("replicas", 1)),
                                      int(status.get("readyReplicas") or 0), deployment_ready(obj))
    return WorkloadStatus(ref, component_names.get(label, label), desired, ready_pods, ready)


def _observed(obj: ApiObject) -> bool:
    """The controller has acted on the latest spec (a new object has no observedGeneration yet)."""
    generation = int(_metadata(obj).get("generation") or 1)
    return int((obj.get("status") or {}).get("observedGeneration") or 0) >= generation


def _replicaset_owners(objects: list[ApiObject]) -> dict[WorkloadRef, WorkloadRef]:
    owners = {}
    for replicaset in objects:
        if replicaset.get("kind") == "ReplicaSet":
            deployment = _controller(replicaset, "Deployment")
            if deployment is not None:
                owners[_ref(replicaset)] = deployment
    return owners


def _pod_workload(pod: ApiObject, deployment_of: Mapping[WorkloadRef, WorkloadRef]) -> WorkloadRef | None:
    daemonset = _controller(pod, "DaemonSet")
    if daemonset is not None:
        return daemonset
    replicaset = _controller(pod, "ReplicaSet")
    return deployment_of.get(replicaset) if replicaset is not None else None


def _controller(obj: ApiObject, kind: str) -> WorkloadRef | None:
    namespace = str(_metadata(obj).get("namespace", ""))
    for owner in _metadata(obj).get("ownerReferences") or []:
        if owner.get("kind") == kind and owner.get("controller", True):
            return WorkloadRef(kind, namespace, str(owner.get("name")))
    return None


def _ref(obj: ApiObject) -> WorkloadRef:
    metadata = _metadata(obj)
    return WorkloadRef(str(obj.get("kind")), str(metadata.get("namespace", "")), str(metadata.get("name")))


def _instance_type(node: ApiObject) -> str:
    return str((_metadata(node).get("labels") or {}).get(INSTANCE_TYPE_LABEL) or NO_INSTANCE_TYPE)


def _metadata(obj: ApiObject) -> Mapping[str, Any]:
    metadata: Mapping[str, Any] = obj.get("metadata") or {}
    return metadata
