"""What an installed chart should look like on the cluster: pure functions over API objects as
`kubectl get -o json` returns them and over rendered manifests. No I/O, no clock.

Which nodes a DaemonSet belongs on is worked out from the instance-type table
(core/instance_types.yaml) and each node's instance-type label, never from a list in a test.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from hyperpod_deps.core.instance_types import catalogue
from hyperpod_deps.core.kubernetes_facts import CLUSTER_SCOPED_KINDS
from hyperpod_deps.core.wire import INSTANCE_TYPE_LABEL

ApiObject = Mapping[str, Any]
Target = Literal["nvidia", "neuron", "efa"]

COMPONENT_LABEL = "app.kubernetes.io/component"
# The health agent runs one DaemonSet per accelerator family, told apart by this label.
ACCELERATOR_LABEL = "hyperpod-deps/accelerator"
HEALTH_AGENT_COMPONENT = "health-monitoring-agent"
DEVICE_PLUGIN_TARGETS: dict[str, Target] = {
    "nvidia-device-plugin": "nvidia",
    "neuron-device-plugin": "neuron",
    "aws-efa-k8s-device-plugin": "efa",
}
KEEP_POLICY_ANNOTATION = "helm.sh/resource-policy"


class UnknownDaemonSet(ValueError):
    """A DaemonSet these expectations do not cover: say where it belongs before testing it."""


def target_of(daemonset: ApiObject) -> Target:
    labels = daemonset["metadata"].get("labels") or {}
    component = labels.get(COMPONENT_LABEL, "")
    if component in DEVICE_PLUGIN_TARGETS:
        return DEVICE_PLUGIN_TARGETS[component]
    if component == HEALTH_AGENT_COMPONENT and labels.get(ACCELERATOR_LABEL) in ("nvidia", "neuron"):
        accelerator: Target = labels[ACCELERATOR_LABEL]
        return accelerator
    raise UnknownDaemonSet(f"DaemonSet {daemonset['metadata']['name']} (component {component!r}) "
                           "has no expected placement")


def serves(target: Target, instance_type: str) -> bool:
    known = catalogue().get(instance_type)
    if known is None:
        return False
    return known.efa if target == "efa" else known.family == target


def instance_type_of(node: ApiObject) -> str:
    return str((node["metadata"].get("labels") or {}).get(INSTANCE_TYPE_LABEL, ""))


def expected_nodes(daemonset: ApiObject, nodes: Iterable[ApiObject]) -> set[str]:
    target = target_of(daemonset)
    return {n["metadata"]["name"] for n in nodes if serves(target, instance_type_of(n))}


def accelerated(nodes: Iterable[ApiObject]) -> set[str]:
    return {n["metadata"]["name"] for n in nodes
            if serves("nvidia", instance_type_of(n)) or serves("neuron", instance_type_of(n))}


def running_nodes(pods: Iterable[ApiObject], owner_uid: str) -> set[str]:
    """Nodes where a live pod of the owner runs (pods being deleted do not count)."""
    return {
        p["spec"]["nodeName"] for p in pods
        if any(ref.get("uid") == owner_uid for ref in p["metadata"].get("ownerReferences") or [])
        and not p["metadata"].get("deletionTimestamp")
        and p.get("status", {}).get("phase") == "Running"
    }


def deployment_available(deployment: ApiObject) -> bool:
    status = deployment.get("status") or {}
    wanted = deployment["spec"].get("replicas", 1)
    conditions = status.get("conditions") or []
    available = any(c["type"] == "Available" and c["status"] == "True" for c in conditions)
    return (available and status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
            and status.get("updatedReplicas", 0) == wanted and status.get("availableReplicas", 0) == wanted)


def daemonset_rolled_out(daemonset: ApiObject) -> bool:
    status = daemonset.get("status") or {}
    desired = status.get("desiredNumberScheduled", -1)
    return bool(status.get("observedGeneration", 0) >= daemonset["metadata"]["generation"]
                and status.get("updatedNumberScheduled", 0) == desired
                and status.get("numberAvailable", 0) == desired
                and status.get("numberMisscheduled", 0) == 0)


def not_ready(workloads: Iterable[ApiObject]) -> list[str]:
    """The Deployments that are not Available and DaemonSets not rolled out, by kind/name."""
    waiting = []
    for workload in workloads:
        ready = deployment_available if workload["kind"] == "Deployment" else daemonset_rolled_out
        if not ready(workload):
            waiting.append(f"{workload['kind']}/{workload['metadata']['name']}")
    return waiting


def unschedulable_reason(pod: ApiObject) -> str | None:
    """The scheduler's message when it could not place the pod, else None."""
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return str(condition.get("message", ""))
    return None


def kept(obj: ApiObject) -> bool:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return annotations.get(KEEP_POLICY_ANNOTATION) == "keep"


Identity = tuple[str, str, str]


def identity(obj: ApiObject, default_namespace: str) -> Identity:
    """kind, namespace ('' for cluster-scoped kinds as kubectl reports them), name."""
    metadata = obj["metadata"]
    namespace = metadata.get("namespace") or ""
    if not namespace and obj["kind"] not in CLUSTER_SCOPED_KINDS:
        namespace = default_namespace
    return str(obj["kind"]), namespace, str(metadata["name"])



def drift(rendered: ApiObject, live: ApiObject) -> list[str]:
    """How a live object differs from its render in what an upgrade must carry over: the labels
    (chart and app versions among them), RBAC rules, container images and config data."""
    found = []
    labels = live["metadata"].get("labels") or {}
    for key, value in (rendered["metadata"].get("labels") or {}).items():
        if labels.get(key) != value:
            found.append(f"label {key}: live {labels.get(key)!r}, rendered {value!r}")
    # A Secret's data is left out: the training operator writes its own webhook certificate there.
    fields = ("rules", "roleRef", "subjects", "data") if rendered["kind"] == "ConfigMap" else (
        "rules", "roleRef", "subjects")
    for field in fields:
        if field in rendered and rendered[field] != live.get(field):
            found.append(f"{field} differ")
    if _images(rendered) != _images(live):
        found.append(f"images: live {_images(live)}, rendered {_images(rendered)}")
    return found


def _images(obj: ApiObject) -> list[str]:
    template = (obj.get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    return sorted(str(c.get("image")) for c in containers)
