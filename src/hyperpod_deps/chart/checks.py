"""Semantic checks on a render, beyond what helm lint and the schemas catch.

Pure functions: manifests in, findings out. Each check encodes one house
rule from the conventions (least-privilege RBAC, labels, node add-ons that
survive quarantine, requests on every container).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hyperpod_deps.chart.inventory import containers, pod_spec
from hyperpod_deps.core.kubernetes_facts import (
    CLUSTER_SCOPED_RESOURCES,
    RBAC_VERBS,
    RECOMMENDED_LABELS,
)
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.wire import NODE_HEALTH_LABEL, NODE_HEALTH_TAINT_EFFECT, NODE_HEALTH_TAINT_VALUE


@dataclass(frozen=True)
class Finding:
    check: str
    obj: str  # Kind/namespace/name
    message: str

    def __str__(self) -> str:
        return f"{self.obj}: {self.message} [{self.check}]"


def describe(obj: Manifest) -> str:
    meta = obj.get("metadata") or {}
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')}/{namespace}{meta.get('name')}"


def check_rbac_rules(obj: Manifest) -> Iterator[str]:
    if obj.get("kind") not in ("Role", "ClusterRole"):
        return
    for index, rule in enumerate(obj.get("rules") or []):
        for verb in rule.get("verbs") or []:
            if verb == "*":
                yield f"rule {index}: wildcard verb"
            elif verb not in RBAC_VERBS:
                yield f"rule {index}: {verb!r} is not a Kubernetes verb"
        for key in ("apiGroups", "resources", "nonResourceURLs"):
            if "*" in (rule.get(key) or []):
                yield f"rule {index}: wildcard in {key}"
        if obj["kind"] == "Role" and not _reads_own_namespace(rule):
            for resource in rule.get("resources") or []:
                if resource.split("/")[0] in CLUSTER_SCOPED_RESOURCES:
                    yield f"rule {index}: {resource} is cluster-scoped; a Role cannot grant it"


def _reads_own_namespace(rule: Manifest) -> bool:
    """get on namespaces is checked against the namespace read, so a Role grants its own."""
    return list(rule.get("resources") or []) == ["namespaces"] and list(rule.get("verbs") or []) == ["get"]


def check_labels(obj: Manifest) -> Iterator[str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    missing = [label for label in RECOMMENDED_LABELS if label not in labels]
    if missing:
        yield f"missing labels {', '.join(missing)}"


def tolerates(toleration: Manifest, key: str, value: str, effect: str) -> bool:
    """Kubernetes' matching rule: an empty key with Exists matches every key, an empty effect
    every effect; Equal (the default operator) also needs the value."""
    if toleration.get("effect") and toleration["effect"] != effect:
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return not toleration.get("key") or toleration["key"] == key
    return toleration.get("key") == key and (toleration.get("value") or "") == value


def check_daemonset_survives_quarantine(obj: Manifest) -> Iterator[str]:
    if obj.get("kind") != "DaemonSet":
        return
    spec = pod_spec(obj) or {}
    if not any(tolerates(t, NODE_HEALTH_LABEL, NODE_HEALTH_TAINT_VALUE, NODE_HEALTH_TAINT_EFFECT)
               for t in spec.get("tolerations") or []):
        yield "does not tolerate the node-health taint: it would leave quarantined nodes"
    if spec.get("priorityClassName") != "system-node-critical":
        yield "node DaemonSet without priorityClassName system-node-critical"


# A pod template annotation that says why its containers must be privileged (the open health
# agent reading /dev/kmsg). Without it, a privileged container is a finding.
PRIVILEGED_REASON = "hyperpod-deps/privileged-reason"


def check_containers(obj: Manifest) -> Iterator[str]:
    spec = pod_spec(obj)
    if spec is None:
        return
    template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    justified = bool((template.get("annotations") or {}).get(PRIVILEGED_REASON, "").strip())
    for container in containers(spec):
        name = container.get("name")
        requests = (container.get("resources") or {}).get("requests") or {}
        if not {"cpu", "memory"} <= set(requests):
            yield f"container {name}: cpu and memory requests are required"
        security = container.get("securityContext") or {}
        if security.get("privileged") and justified:
            continue  # privileged has every capability; the annotation says why
        if security.get("privileged"):
            yield f"container {name}: privileged"
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"container {name}: allowPrivilegeEscalation must be false"
        if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
            yield f"container {name}: capabilities must drop ALL"


CHECKS: dict[str, Callable[[Manifest], Iterator[str]]] = {
    "rbac": check_rbac_rules,
    "labels": check_labels,
    "quarantine": check_daemonset_survives_quarantine,
    "containers": check_containers,
}


def run_checks(objects: list[Manifest]) -> list[Finding]:
    return [
        Finding(name, describe(obj), message)
        for obj in objects
        for name, check in CHECKS.items()
        for message in check(obj)
    ]
