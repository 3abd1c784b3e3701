"""The cluster as install, upgrade, preflight and status read it: the connection, and the facts
chart/preflight.py decides on. Every API call goes through kube/; a failure comes out as
ClusterFailed, whose message says what was being done."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hyperpod_deps.chart.preflight import (
    AccessCheck,
    ClusterFacts,
    ObjectRef,
    Observed,
    is_conflict,
    is_kubeflow_crd,
    team_namespaces,
)
from hyperpod_deps.chart.render import RenderRequest
from hyperpod_deps.chart.requirements import (
    CERT_MANAGER,
    Requirement,
    cert_manager_requirement,
    effective_section,
    rendered_requirements,
)
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.ownership import Release
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import Forbidden, KubeError


class ClusterFailed(RuntimeError):
    """The cluster could not be reached, read or written."""


@contextmanager
def connected(kubeconfig: Path | None) -> Iterator[Kube]:
    """A connection, closed on the way out; a cluster that cannot be reached fails with its reason."""
    try:
        kube = Kube.connect(kubeconfig)
    except KubeError as error:
        raise ClusterFailed(str(error)) from error
    with kube:
        yield kube


@contextmanager
def failures(doing: str) -> Iterator[None]:
    """A KubeError inside comes out as ClusterFailed('<doing> failed: <why>')."""
    try:
        yield
    except KubeError as error:
        raise ClusterFailed(f"{doing} failed: {error}") from error


def facts(kube: Kube, objects: list[Manifest], request: RenderRequest, check_access: bool) -> ClusterFacts:
    """What preflight decides on: each rendered object's live namesake, the namespaces, the access,
    and the operators the render relies on."""
    release = Release(request.release, request.namespace)
    observed: list[Observed] = []
    unserved: list[ObjectRef] = []
    # Helm creates what is missing, patches what exists, and keeps its release record in a
    # Secret in the release namespace.
    checks = {AccessCheck("create", "", "secrets", release.namespace)}
    for obj in objects:
        meta = obj.get("metadata") or {}
        api_version, kind, name = str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("name"))
        rtype = kube.resource_type(api_version, kind)
        if rtype is None:
            unserved.append(ObjectRef(api_version, kind, name, meta.get("namespace")))
            continue
        # As helm does: a namespaced object without a namespace goes to the release namespace.
        namespace = str(meta.get("namespace") or release.namespace) if rtype.namespaced else None
        live = kube.get(rtype, name, namespace)
        observed.append(Observed(ObjectRef(api_version, kind, name, namespace), obj, live))
        checks.add(AccessCheck("patch" if live else "create", rtype.group, rtype.plural, namespace))
    crds = {o.ref.name: o.live for o in observed
            if is_kubeflow_crd(o.ref) and o.live is not None and is_conflict(o.live, release)}
    needed = requirements_of(objects, request)
    return ClusterFacts(
        server_version=kube.server_version(),
        observed=observed,
        unserved=unserved,
        namespaces=_existing_namespaces(kube, {o.ref.namespace for o in observed if o.ref.namespace}
                                        | {release.namespace}),
        namespace_labels=_namespace_labels(kube, team_namespaces(observed)),
        custom_resources={name: count for name, live in crds.items()
                          if (count := count_custom_resources(kube, live)) is not None},
        denied=sorted((c for c in checks if check_access and not _allowed(kube, c)), key=str),
        requirements=needed,
        present_crds=present_crds(kube, {r.crd for r in needed}),
    )


def requirements_of(objects: Iterable[Manifest], request: RenderRequest) -> list[Requirement]:
    """What the rendered objects declare, and cert-manager when the values turn it on."""
    cert_manager = cert_manager_requirement(effective_section(
        request.chart, CERT_MANAGER, request.values_files, request.set_values))
    return [*rendered_requirements(objects), *([cert_manager] if cert_manager else [])]


def present_crds(kube: Kube, names: set[str]) -> frozenset[str]:
    rtype = served_type(kube, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    return frozenset(name for name in names if kube.get(rtype, name) is not None)


def count_custom_resources(kube: Kube, crd: Manifest) -> int | None:
    """How many objects of the CRD's kind exist; None when they cannot be listed (so: assume some)."""
    spec = crd.get("spec") or {}
    versions = [v for v in spec.get("versions") or [] if v.get("served")]
    storage = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
    kind = (spec.get("names") or {}).get("kind")
    if storage is None or not kind:
        return None
    try:
        rtype = kube.resource_type(f"{spec.get('group')}/{storage['name']}", str(kind))
        return None if rtype is None else sum(1 for _ in kube.list(rtype))
    except KubeError:
        return None


def served_type(kube: Kube, api_version: str, kind: str) -> ResourceType:
    rtype = kube.resource_type(api_version, kind)
    if rtype is None:
        raise KubeError(f"the cluster does not serve {api_version} {kind}")
    return rtype


def _existing_namespaces(kube: Kube, needed: set[str]) -> frozenset[str]:
    """Which of the needed namespaces exist: one list, or one GET each for a user who may not list."""
    rtype = served_type(kube, "v1", "Namespace")
    try:
        return frozenset(str(item["metadata"]["name"]) for item in kube.list(rtype)) & needed
    except Forbidden:
        return frozenset(name for name in needed if kube.get(rtype, name) is not None)


def _namespace_labels(kube: Kube, names: set[str]) -> dict[str, dict[str, str]]:
    """The labels of those of the namespaces that exist and may be read."""
    rtype = served_type(kube, "v1", "Namespace")
    found = {}
    for name in sorted(names):
        try:
            live = kube.get(rtype, name)
        except Forbidden:
            continue
        if live is not None:
            labels = (live.get("metadata") or {}).get("labels") or {}
            found[name] = {str(k): str(v) for k, v in labels.items()}
    return found


def _allowed(kube: Kube, check: AccessCheck) -> bool:
    return kube.can_i(check.verb, check.group, check.resource, check.namespace)
