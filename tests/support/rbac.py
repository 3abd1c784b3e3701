"""What rendered RBAC objects grant, per subject: pure functions over manifests.

`grants(objects)` resolves every ClusterRoleBinding and RoleBinding to the
rules of the role it names and returns, per subject, the set of `Grant`s:
one (namespace, apiGroup, resource, verb, resourceName) each, with namespace
`CLUSTER_WIDE` for a ClusterRole bound by a ClusterRoleBinding. Aggregated
ClusterRoles (aggregationRule) are not expanded; a binding to a role that is
not in the objects grants nothing. `missing(ours, reference)` lists what a
reference grants that ours does not cover.

Kubernetes' own rules, followed here:
- a ClusterRole bound by a RoleBinding grants its rules in that binding's namespace only;
- a RoleBinding may name only a Role of its own namespace;
- the namespace of a User or Group subject means nothing (it is dropped);
- a Role's rules on cluster-scoped resources (nodes, namespaces, ...) have no
  effect: `effective_only` drops them (the resources known to be cluster-scoped
  are listed in CLUSTER_SCOPED);
- "*" in apiGroups, resources or verbs matches anything; a rule with
  resourceNames grants only those names; nonResourceURLs are ignored.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Manifest = Mapping[str, Any]

CLUSTER_WIDE = "*"
ANY_NAME = ""

# Cluster-scoped resources a chart of this kind may name in rules ("group/resource",
# the core group as ""). A namespaced Role's rule on one of these grants nothing.
CLUSTER_SCOPED = frozenset(
    {
        "/nodes",
        "/nodes/status",
        "/namespaces",
        "/namespaces/status",
        "/persistentvolumes",
        "apiextensions.k8s.io/customresourcedefinitions",
        "rbac.authorization.k8s.io/clusterroles",
        "rbac.authorization.k8s.io/clusterrolebindings",
        "scheduling.k8s.io/priorityclasses",
        "storage.k8s.io/storageclasses",
        "storage.k8s.io/csidrivers",
        "kueue.x-k8s.io/clusterqueues",
        "kueue.x-k8s.io/resourceflavors",
        "kueue.x-k8s.io/workloadpriorityclasses",
    }
)


@dataclass(frozen=True, order=True)
class Subject:
    kind: str  # User, Group or ServiceAccount
    name: str
    namespace: str = ""  # ServiceAccounts only

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True, order=True)
class Grant:
    namespace: str  # CLUSTER_WIDE or a namespace
    api_group: str
    resource: str
    verb: str
    resource_name: str = ANY_NAME  # ANY_NAME: every object

    def covers(self, other: Grant) -> bool:
        """Whether holding self allows everything `other` allows."""
        return (
            self.namespace in (CLUSTER_WIDE, other.namespace)
            and self.api_group in ("*", other.api_group)
            and self.resource in ("*", other.resource)
            and self.verb in ("*", other.verb)
            and self.resource_name in (ANY_NAME, other.resource_name)
        )

    def __str__(self) -> str:
        where = "cluster-wide" if self.namespace == CLUSTER_WIDE else f"in {self.namespace}"
        name = f"/{self.resource_name}" if self.resource_name else ""
        return f"{self.verb} {self.api_group or 'core'}/{self.resource}{name} {where}"


def rule_grants(rule: Mapping[str, Any], namespace: str) -> set[Grant]:
    """The grants of one PolicyRule held in `namespace` (CLUSTER_WIDE for a ClusterRoleBinding)."""
    names = rule.get("resourceNames") or [ANY_NAME]
    return {
        Grant(namespace, str(group), str(resource), str(verb), str(name))
        for group in rule.get("apiGroups") or []
        for resource in rule.get("resources") or []
        for verb in rule.get("verbs") or []
        for name in names
    }


def subject_of(raw: Mapping[str, Any]) -> Subject:
    """A binding's subject entry; the namespace counts for ServiceAccounts only."""
    kind = str(raw["kind"])
    namespace = str(raw.get("namespace") or "") if kind == "ServiceAccount" else ""
    return Subject(kind, str(raw["name"]), namespace)


def _roles(objects: Iterable[Manifest]) -> dict[tuple[str, str, str], list[Mapping[str, Any]]]:
    """(kind, namespace, name) -> rules of every Role and ClusterRole."""
    roles: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for obj in objects:
        if obj.get("kind") in ("Role", "ClusterRole"):
            meta = obj["metadata"]
            namespace = str(meta.get("namespace") or "") if obj["kind"] == "Role" else ""
            roles[(str(obj["kind"]), namespace, str(meta["name"]))] = list(obj.get("rules") or [])
    return roles


def grants(objects: Iterable[Manifest], *, effective_only: bool = True) -> dict[Subject, set[Grant]]:
    """Per subject, everything the bindings among `objects` grant it."""
    objects = list(objects)
    roles = _roles(objects)
    result: dict[Subject, set[Grant]] = defaultdict(set)
    for binding in objects:
        kind = binding.get("kind")
        if kind not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        ref = binding["roleRef"]
        if kind == "ClusterRoleBinding":
            where, role_key = CLUSTER_WIDE, ("ClusterRole", "", str(ref["name"]))
        else:
            where = str(binding["metadata"].get("namespace") or "")
            role_ns = where if ref["kind"] == "Role" else ""
            role_key = (str(ref["kind"]), role_ns, str(ref["name"]))
        held: set[Grant] = set()
        for rule in roles.get(role_key, []):
            held |= rule_grants(rule, where)
        if effective_only and role_key[0] == "Role":
            held = {g for g in held if f"{g.api_group}/{g.resource}" not in CLUSTER_SCOPED}
        for subject in binding.get("subjects") or []:
            result[subject_of(subject)] |= held
    return dict(result)


def missing(ours: Iterable[Grant], reference: Iterable[Grant]) -> set[Grant]:
    """The grants in `reference` that no grant of `ours` covers."""
    held = list(ours)
    return {wanted for wanted in reference if not any(have.covers(wanted) for have in held)}


def describe(found: Iterable[Grant]) -> str:
    """One grant a line, sorted: for assertion messages."""
    return "\n".join(sorted(str(g) for g in found))
