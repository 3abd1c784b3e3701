"""Who owns a live object, read from its metadata alone: Helm's release metadata, the
managedFields the API server records for every writer, and ownerReferences.

Pure: objects in, answers out. Helm's rule is mirrored exactly (its `checkOwnership`): an
existing object joins a release only if it is labelled `app.kubernetes.io/managed-by: Helm`
and annotated with that release's name and namespace; otherwise `helm install` refuses it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hyperpod_deps.core.manifest import Manifest

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
HELM = "Helm"
RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"

# Writers that report on an object rather than own it: the control plane's own bookkeeping.
CONTROL_PLANE_MANAGERS = frozenset({"kube-apiserver", "kube-controller-manager", "kube-scheduler"})
# managedFields manager-name prefixes of the tools people install with, and their usual names.
KNOWN_TOOLS = (("kubectl", "kubectl"), ("helm-controller", "Flux"), ("kustomize-controller", "Flux"),
               ("helm", "Helm"), ("argocd", "Argo CD"), ("terraform", "Terraform"), ("pulumi", "Pulumi"),
               ("eks", "EKS"), ("kubeadm", "kubeadm"))


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str


class Owner(StrEnum):
    THIS_RELEASE = "this-release"
    OTHER_RELEASE = "other-release"
    TOOL = "tool"  # no release owns it; managedFields name who wrote it
    UNKNOWN = "unknown"  # no release metadata and no managedFields


@dataclass(frozen=True)
class Ownership:
    owner: Owner
    release: Release | None = None  # the other release, for OTHER_RELEASE
    managers: tuple[str, ...] = ()  # managedFields managers; control plane and status writers left out
    controllers: tuple[str, ...] = ()  # ownerReferences, as Kind/name
    helm_label_only: bool = False  # labelled managed-by Helm, without release annotations

    @property
    def tools(self) -> tuple[str, ...]:
        return tuple(sorted({tool_name(manager) for manager in self.managers}))

    def describe(self) -> str:
        if self.owner is Owner.THIS_RELEASE:
            text = "this release"
        elif self.owner is Owner.OTHER_RELEASE and self.release:
            text = f"Helm release {self.release.name} in namespace {self.release.namespace}"
        elif self.managers:
            text = f"{', '.join(self.tools)} (managedFields: {', '.join(self.managers)})"
        else:
            # The API server drops a managedFields entry that owns no field, so an object made with
            # nothing but a name (`kubectl create serviceaccount x`) records no writer at all.
            text = "no owner recorded: no Helm release metadata, no managedFields"
        if self.helm_label_only:
            text += f"; labelled {MANAGED_BY_LABEL}={HELM} but without Helm's release annotations"
        if self.controllers:
            text += f"; ownerReferences: {', '.join(self.controllers)}"
        return text


def tool_name(manager: str) -> str:
    for prefix, name in KNOWN_TOOLS:
        if manager.startswith(prefix):
            return name
    return manager


def classify(live: Manifest, release: Release) -> Ownership:
    """Who owns an existing object, as far as its metadata tells."""
    meta = live.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    owner_release = (annotations.get(RELEASE_NAME_ANNOTATION), annotations.get(RELEASE_NAMESPACE_ANNOTATION))
    managers = _managers(meta.get("managedFields") or [])
    controllers = tuple(f"{ref.get('kind')}/{ref.get('name')}" for ref in meta.get("ownerReferences") or [])
    helm_labelled = labels.get(MANAGED_BY_LABEL) == HELM
    if owner_release == (release.name, release.namespace) and helm_labelled:
        return Ownership(Owner.THIS_RELEASE, managers=managers, controllers=controllers)
    name, namespace = owner_release
    if name and namespace and owner_release != (release.name, release.namespace):
        return Ownership(Owner.OTHER_RELEASE, Release(name, namespace), managers, controllers)
    return Ownership(Owner.TOOL if managers else Owner.UNKNOWN, managers=managers, controllers=controllers,
                     helm_label_only=helm_labelled and not name)


def _managers(managed_fields: list[dict[str, Any]]) -> tuple[str, ...]:
    names: list[str] = []
    for entry in managed_fields:
        name = str(entry.get("manager") or "")
        writes_status = entry.get("subresource") == "status"
        if name and name not in CONTROL_PLANE_MANAGERS and not writes_status and name not in names:
            names.append(name)
    return tuple(names)


def helm_refusal(live: Manifest, release: Release) -> str | None:
    """Helm's reason for refusing the object into the release, word for word; None when it accepts it."""
    meta = live.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    problems = [
        _require("label", labels, MANAGED_BY_LABEL, HELM),
        _require("annotation", annotations, RELEASE_NAME_ANNOTATION, release.name),
        _require("annotation", annotations, RELEASE_NAMESPACE_ANNOTATION, release.namespace),
    ]
    found = [problem for problem in problems if problem]
    return f"invalid ownership metadata; {'; '.join(found)}" if found else None


def _require(what: str, values: dict[str, str], key: str, expected: str) -> str | None:
    if key not in values:
        return f'{what} validation error: missing key "{key}": must be set to "{expected}"'
    if values[key] != expected:
        return (f'{what} validation error: key "{key}" must equal "{expected}": '
                f'current value is "{values[key]}"')
    return None


def adoption_patch(release: Release) -> Manifest:
    """The merge patch that hands an object to a release: one label and two annotations, nothing else."""
    return {"metadata": {
        "labels": {MANAGED_BY_LABEL: HELM},
        "annotations": {RELEASE_NAME_ANNOTATION: release.name,
                        RELEASE_NAMESPACE_ANNOTATION: release.namespace},
    }}
