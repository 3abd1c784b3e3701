"""The I/O around chart/preflight.py: read the cluster, adopt objects, run helm, read readiness.

Every API call goes through kube/; every decision is made in chart/preflight.py (conflicts,
prerequisites) or in the small pure functions here (readiness).
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from hyperpod_deps.chart.cluster_prerequisites import declared, findings, present_signs
from hyperpod_deps.chart.inventory import images, unpublished
from hyperpod_deps.chart.preflight import (
    AccessCheck,
    ClusterFacts,
    Conflict,
    ObjectRef,
    Observed,
    PreflightReport,
    decide,
    is_conflict,
    is_kubeflow_crd,
    team_namespaces,
)
from hyperpod_deps.chart.render import RenderRequest, parse_manifests, render
from hyperpod_deps.chart.requirements import (
    CERT_MANAGER,
    Requirement,
    cert_manager_requirement,
    effective_section,
    rendered_requirements,
)
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.ownership import Release, adoption_patch
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import Forbidden, KubeError

COMPONENT_LABEL = "app.kubernetes.io/component"


class HelmFailed(RuntimeError):
    """A helm command exited non-zero; the message is helm's own."""


def release_of(request: RenderRequest) -> Release:
    return Release(request.release, request.namespace)


def chart_kube_version(chart: Path) -> str | None:
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    return str(metadata["kubeVersion"]) if metadata.get("kubeVersion") else None


def run_preflight(kube: Kube, helm: Path, request: RenderRequest,
                  check_access: bool = True) -> PreflightReport:
    release = release_of(request)
    objects = render(helm, request)
    facts = gather(kube, objects, release, check_access)
    needed = requirements_of(objects, request)
    facts = replace(facts, requirements=needed, present_crds=present_crds(kube, {r.crd for r in needed}))
    report = decide(facts, release, chart_kube_version(request.chart))
    software = declared(objects)
    missing = findings(software, present_signs(kube, {sign for needed in software for sign in needed.signs}))
    return replace(report, prerequisites=[*report.prerequisites, *missing],
                   unpublished_images=unpublished(images(objects)))


def requirements_of(objects: Iterable[Manifest], request: RenderRequest) -> list[Requirement]:
    """What the rendered objects declare, and cert-manager when the values turn it on."""
    cert_manager = cert_manager_requirement(effective_section(
        request.chart, CERT_MANAGER, request.values_files, request.set_values))
    return [*rendered_requirements(objects), *([cert_manager] if cert_manager else [])]


def present_crds(kube: Kube, names: set[str]) -> frozenset[str]:
    rtype = _require(kube, "apiextensions.k8s.io/v1", "CustomResourceDefinition")
    return frozenset(name for name in names if kube.get(rtype, name) is not None)


def gather(kube: Kube, objects: Iterable[Manifest], release: Release, check_access: bool) -> ClusterFacts:
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
    )


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


def adopt(kube: Kube, conflicts: Sequence[Conflict], release: Release) -> list[ObjectRef]:
    """Give each object this release's ownership metadata (and change nothing else)."""
    adopted = []
    for found in conflicts:
        rtype = _require(kube, found.ref.api_version, found.ref.kind)
        kube.merge_patch(rtype, found.ref.name, found.ref.namespace, adoption_patch(release))
        adopted.append(found.ref)
    return adopted


def helm_command(helm: Path, action: str, request: RenderRequest, kubeconfig: Path | None,
                 extra: Sequence[str] = ()) -> list[str]:
    """`helm install|upgrade <release> <chart> --namespace <ns>` with the same values as the render."""
    args = [str(helm), action, request.release, str(request.chart), "--namespace", request.namespace]
    args += request.value_args()
    return args + _kubeconfig_args(kubeconfig) + list(extra)


def stream(command: Sequence[str], echo: Callable[[str], None]) -> int:
    """Run a command, handing each line of its output (stdout and stderr, in order) to `echo`."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            echo(line.rstrip("\n"))
    return process.returncode


def helm_output(helm: Path, kubeconfig: Path | None, *args: str) -> str:
    result = subprocess.run([str(helm), *args, *_kubeconfig_args(kubeconfig)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HelmFailed(result.stderr.strip() or f"helm {' '.join(args)} failed")
    return result.stdout


def current_values(helm: Path, release: Release, kubeconfig: Path | None) -> str:
    """The values the release was installed with (what helm's --reuse-values starts from)."""
    return helm_output(helm, kubeconfig, "get", "values", release.name, "--namespace", release.namespace,
                       "--output", "yaml")


def release_objects(helm: Path, release: Release, kubeconfig: Path | None) -> list[Manifest]:
    return parse_manifests(helm_output(helm, kubeconfig, "get", "manifest", release.name,
                                       "--namespace", release.namespace))


@dataclass(frozen=True)
class Readiness:
    component: str
    kind: str
    name: str
    namespace: str
    desired: int
    ready: int
    exists: bool = True

    @property
    def ok(self) -> bool:
        return self.exists and self.ready >= self.desired


def readiness(rendered: Manifest, live: Manifest | None, namespace: str) -> Readiness:
    """Deployments count available replicas; DaemonSets count ready pods against desired ones."""
    meta = rendered.get("metadata") or {}
    component = str((meta.get("labels") or {}).get(COMPONENT_LABEL, "-"))
    kind, name = str(rendered.get("kind")), str(meta.get("name"))
    if live is None:
        return Readiness(component, kind, name, namespace, 0, 0, exists=False)
    status = live.get("status") or {}
    if kind == "DaemonSet":
        return Readiness(component, kind, name, namespace, int(status.get("desiredNumberScheduled") or 0),
                         int(status.get("numberReady") or 0))
    desired = (live.get("spec") or {}).get("replicas")
    return Readiness(component, kind, name, namespace, 1 if desired is None else int(desired),
                     int(status.get("availableReplicas") or 0))


def workload_readiness(kube: Kube, objects: Iterable[Manifest], release: Release) -> list[Readiness]:
    found = []
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "DaemonSet"):
            continue
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or release.namespace)
        rtype = _require(kube, str(obj.get("apiVersion")), str(obj.get("kind")))
        found.append(readiness(obj, kube.get(rtype, str(meta.get("name")), namespace), namespace))
    return found


def _existing_namespaces(kube: Kube, needed: set[str]) -> frozenset[str]:
    """Which of the needed namespaces exist: one list, or one GET each for a user who may not list."""
    rtype = _require(kube, "v1", "Namespace")
    try:
        return frozenset(str(item["metadata"]["name"]) for item in kube.list(rtype)) & needed
    except Forbidden:
        return frozenset(name for name in needed if kube.get(rtype, name) is not None)


def _namespace_labels(kube: Kube, names: set[str]) -> dict[str, dict[str, str]]:
    """The labels of those of the namespaces that exist and may be read."""
    rtype = _require(kube, "v1", "Namespace")
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


def _require(kube: Kube, api_version: str, kind: str) -> ResourceType:
    rtype = kube.resource_type(api_version, kind)
    if rtype is None:
        raise KubeError(f"the cluster does not serve {api_version} {kind}")
    return rtype


def _kubeconfig_args(kubeconfig: Path | None) -> list[str]:
    return ["--kubeconfig", str(kubeconfig)] if kubeconfig else []
