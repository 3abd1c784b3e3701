"""Software a component needs on the cluster and does not install, found by its signs.

A component declares what it needs in a ConfigMap it renders, annotated
`hyperpod-deps/prerequisites: <data key>`, whose data key holds a JSON list of
`{name, what, component, command, signs}` (the inference operator's six
dependencies, docs/decisions/0015). A sign is an object whose presence shows the
software is installed: a CustomResourceDefinition, CSIDriver or webhook configuration
by name, or a Deployment by label selector in any namespace. Every sign must be present;
preflight reports each prerequisite with a missing sign, naming the signs and the
command that installs it.

`declared` and `findings` are pure; `present_signs` asks the cluster.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hyperpod_deps.chart.preflight import Prerequisite
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.errors import KubeError

if TYPE_CHECKING:  # `plan` reads the declarations here and must not load the API client
    from hyperpod_deps.kube.client import Kube

PREREQUISITES_ANNOTATION = "hyperpod-deps/prerequisites"
# The API of each kind a sign may name.
SIGN_API_VERSIONS = {
    "CustomResourceDefinition": "apiextensions.k8s.io/v1",
    "CSIDriver": "storage.k8s.io/v1",
    "MutatingWebhookConfiguration": "admissionregistration.k8s.io/v1",
    "ValidatingWebhookConfiguration": "admissionregistration.k8s.io/v1",
    "Deployment": "apps/v1",
}


@dataclass(frozen=True)
class Sign:
    kind: str
    name: str = ""  # for a cluster-scoped object
    selector: str = ""  # for a Deployment: key=value[,key=value], in any namespace

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" if self.name else f"a {self.kind} labelled {self.selector}"

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        wanted = dict(pair.split("=", 1) for pair in self.selector.split(",") if pair)
        return bool(wanted) and all(labels.get(key) == value for key, value in wanted.items())


@dataclass(frozen=True)
class ClusterPrerequisite:
    component: str
    name: str
    what: str
    signs: tuple[Sign, ...]
    command: str


def declared(objects: Iterable[Manifest]) -> list[ClusterPrerequisite]:
    """The prerequisites the rendered objects declare, in render order."""
    found: list[ClusterPrerequisite] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        key = (meta.get("annotations") or {}).get(PREREQUISITES_ANNOTATION)
        if obj.get("kind") != "ConfigMap" or not key:
            continue
        for entry in json.loads((obj.get("data") or {}).get(key) or "[]"):
            signs = tuple(Sign(str(s["kind"]), str(s.get("name", "")), str(s.get("selector", "")))
                          for s in entry["signs"])
            found.append(ClusterPrerequisite(str(entry["component"]), str(entry["name"]),
                                             str(entry["what"]), signs, str(entry["command"])))
    return found


def findings(needed: Iterable[ClusterPrerequisite], present: frozenset[Sign]) -> list[Prerequisite]:
    """One finding per prerequisite with a sign the cluster lacks."""
    result = []
    for prerequisite in needed:
        missing = [sign for sign in prerequisite.signs if sign not in present]
        if missing:
            result.append(Prerequisite(
                "operator", f"{prerequisite.component} needs {prerequisite.what}, which this chart does not "
                f"install, and the cluster lacks {', '.join(map(str, missing))}",
                f"install it first: `{prerequisite.command}`"))
    return result


def present_signs(kube: Kube, signs: Iterable[Sign]) -> frozenset[Sign]:
    """The signs the cluster shows. A kind the server does not serve, or may not be read, shows none."""
    wanted = set(signs)
    present: set[Sign] = set()
    deployments = [sign for sign in wanted if sign.kind == "Deployment"]
    for sign in wanted - set(deployments):
        rtype = kube.resource_type(SIGN_API_VERSIONS[sign.kind], sign.kind)
        try:
            if rtype is not None and kube.get(rtype, sign.name) is not None:
                present.add(sign)
        except KubeError:
            continue
    if deployments:
        present |= _deployment_signs(kube, deployments)
    return frozenset(present)


def _deployment_signs(kube: Kube, signs: list[Sign]) -> set[Sign]:
    rtype = kube.resource_type("apps/v1", "Deployment")
    if rtype is None:
        return set()
    try:
        labels = [((d.get("metadata") or {}).get("labels") or {}) for d in kube.list(rtype)]
    except KubeError:
        return set()
    return {sign for sign in signs if any(sign.matches_labels(found) for found in labels)}
