"""Preflight: what would make `helm install` fail on this cluster, and the way out of each.

Pure decisions. The rendered objects and the facts read from the cluster (chart/cluster.py
gathers them) go in; conflicts and unmet prerequisites come out, each with what to do.

A conflict is an object the chart renders that already exists without this release's Helm
ownership metadata. Helm refuses to install over it ("exists and cannot be imported into the
current release") and names only the first one; preflight names them all, says who owns each
and how to get out: delete it, or adopt it. CRDs of kubeflow.org get their own explanation,
because deleting a CRD deletes every job of its kind.

Some objects are rendered only when absent or already the release's (the namespaces and job
CRDs the upstream HyperPod chart also creates; their templates use `hyperpod-common.ours` and
carry the LEAVE_IF_FOREIGN annotation). Helm renders those against the live cluster and skips
one another owner has, so they are not conflicts: the report lists them as left as they are,
and --adopt still hands them to the release.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hyperpod_deps.chart.requirements import Requirement
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.ownership import (
    HELM,
    MANAGED_BY_LABEL,
    RELEASE_NAME_ANNOTATION,
    RELEASE_NAMESPACE_ANNOTATION,
    Owner,
    Ownership,
    Release,
    classify,
    helm_refusal,
)
from hyperpod_deps.core.versions import UnsupportedConstraint, satisfies

COMPONENT_LABEL = "app.kubernetes.io/component"
RESOURCE_POLICY_ANNOTATION = "helm.sh/resource-policy"
KUBEFLOW_CRD_SUFFIX = ".kubeflow.org"
# Components whose namespace the chart may or may not create: `<component>.namespace.create`.
NAMESPACE_SWITCH_COMPONENTS = frozenset({"deep-health-check", "namespaced-role-and-bindings",
                                         "team-role-and-bindings"})
OTHER_RELEASE_FLAG = "--adopt-from-other-releases"
TEAM_COMPONENT = "team-role-and-bindings"
# What HyperPod task governance puts on a team namespace, and what the HyperPod client selects on.
MANAGED_QUEUE_LABEL = "sagemaker.amazonaws.com/sagemaker-managed-queue"
# On a rendered object: when one of that name exists and is not this release's, the chart
# leaves it as it is instead of rendering it (hyperpod-common.ours).
LEAVE_IF_FOREIGN_ANNOTATION = "hyperpod-deps/if-owned-elsewhere"
LEAVE_IF_FOREIGN = "leave"


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    name: str
    namespace: str | None  # None for cluster-scoped objects

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def helm_phrase(self) -> str:
        """How Helm names the object in its error messages (a cluster-scoped one is in namespace "")."""
        return f'{self.kind} "{self.name}" in namespace "{self.namespace or ""}"'

    def kubectl_delete(self) -> str:
        where = f" --namespace {self.namespace}" if self.namespace else ""
        return f"kubectl delete {self.kind.lower()} {self.name}{where}"


@dataclass(frozen=True)
class CrdImpact:
    """What is at stake with a kubeflow.org CRD: the jobs of its kind."""

    kind: str  # e.g. PyTorchJob
    custom_resources: int | None  # how many exist; None when they could not be counted
    kept_on_uninstall: bool  # the rendered CRD carries helm.sh/resource-policy: keep
    live_kept: bool  # the existing CRD carries it (what another owner's uninstall does)


@dataclass(frozen=True)
class Conflict:
    ref: ObjectRef
    component: str
    ownership: Ownership
    refusal: str  # Helm's reason, word for word
    crd: CrdImpact | None = None
    ways_out: tuple[str, ...] = ()

    @property
    def helm_message(self) -> str:
        return (f"{self.ref.helm_phrase()} exists and cannot be imported into the current release: "
                f"{self.refusal}")

    @property
    def owned_by_other_release(self) -> bool:
        return self.ownership.owner is Owner.OTHER_RELEASE


@dataclass(frozen=True)
class Prerequisite:
    check: str  # kubernetes-version | namespace | access | api | operator
    message: str
    fix: str


@dataclass(frozen=True)
class Observed:
    """A rendered object, where it lands, and what the cluster holds under that name (None: nothing)."""

    ref: ObjectRef
    rendered: Manifest
    live: Manifest | None

    @property
    def component(self) -> str:
        return str(((self.rendered.get("metadata") or {}).get("labels") or {}).get(COMPONENT_LABEL, "-"))


@dataclass(frozen=True)
class AccessCheck:
    verb: str
    group: str
    resource: str  # plural
    namespace: str | None

    def __str__(self) -> str:
        qualified = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {qualified} " + (f"in namespace {self.namespace}" if self.namespace
                                             else "(cluster-wide)")


@dataclass(frozen=True)
class ClusterFacts:
    server_version: str
    observed: list[Observed]
    unserved: list[ObjectRef] = field(default_factory=list)  # kinds the server does not serve
    namespaces: frozenset[str] = frozenset()
    custom_resources: dict[str, int] = field(default_factory=dict)  # CRD name -> how many of its objects
    denied: list[AccessCheck] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)  # operators the chart needs, not installs
    present_crds: frozenset[str] = frozenset()  # which of the requirements' CRDs the cluster has
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # existing team namespaces'


@dataclass(frozen=True)
class PreflightReport:
    release: Release
    server_version: str
    objects_checked: int
    conflicts: list[Conflict]
    prerequisites: list[Prerequisite]
    # Objects another owner has that the chart leaves as they are (see the module's docstring).
    left_alone: list[Conflict] = field(default_factory=list)
    # Images of this project the render pulls from where no registry serves them yet: a notice,
    # not a failure (a cluster that imports images onto its nodes needs no registry).
    unpublished_images: list[str] = field(default_factory=list)
    # Team namespaces without the metadata HyperPod task governance gives them: a notice, not a
    # failure (the install works; AWS's HyperPod client does not find the namespace).
    team_namespaces: list[Prerequisite] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.prerequisites


def is_conflict(live: Manifest | None, release: Release) -> bool:
    return live is not None and helm_refusal(live, release) is not None


def is_kubeflow_crd(ref: ObjectRef) -> bool:
    return ref.kind == "CustomResourceDefinition" and ref.name.endswith(KUBEFLOW_CRD_SUFFIX)


def leaves_if_foreign(rendered: Manifest) -> bool:
    annotations = (rendered.get("metadata") or {}).get("annotations") or {}
    return annotations.get(LEAVE_IF_FOREIGN_ANNOTATION) == LEAVE_IF_FOREIGN


def decide(facts: ClusterFacts, release: Release, kube_version: str | None) -> PreflightReport:
    foreign = [o for o in facts.observed if is_conflict(o.live, release)]
    conflicts = [conflict(o, release, facts.custom_resources) for o in foreign
                 if not leaves_if_foreign(o.rendered)]
    left_alone = [conflict(o, release, facts.custom_resources) for o in foreign
                  if leaves_if_foreign(o.rendered)]
    prerequisites = [
        *_version_findings(facts.server_version, kube_version),
        *_namespace_findings(facts, release),
        *(Prerequisite("api", f"the cluster does not serve {ref.api_version} {ref.kind} ({ref})",
                       "install the CRD that defines it first, or turn off the component that renders it")
          for ref in facts.unserved),
        *(Prerequisite("access", f"you may not {check}",
                       "helm needs it: use a kubeconfig that may, or ask a cluster admin")
          for check in facts.denied),
        *requirement_findings(facts.requirements, facts.present_crds),
    ]
    return PreflightReport(release, facts.server_version, len(facts.observed) + len(facts.unserved),
                           conflicts, prerequisites, left_alone,
                           team_namespaces=team_namespace_findings(facts))


def team_namespaces(observed: Iterable[Observed]) -> set[str]:
    """The namespaces the chart's team Roles go into (hyperpod-ns-<id>)."""
    return {o.ref.namespace for o in observed
            if o.component == TEAM_COMPONENT and o.ref.kind == "Role" and o.ref.namespace}


def team_namespace_findings(facts: ClusterFacts) -> list[Prerequisite]:
    """An existing team namespace that lacks the label the HyperPod client discovers it by."""
    findings = []
    for namespace in sorted(team_namespaces(facts.observed)):
        labels = facts.namespace_labels.get(namespace)
        if labels is None or labels.get(MANAGED_QUEUE_LABEL) == "true":
            continue
        findings.append(Prerequisite(
            "team-namespace", f"team namespace {namespace} lacks the label {MANAGED_QUEUE_LABEL}=true that "
            "HyperPod task governance puts on it; AWS's HyperPod client finds a member's namespace by it",
            f"`kubectl label namespace {namespace} {MANAGED_QUEUE_LABEL}=true`"))
    return findings


def requirement_findings(requirements: Iterable[Requirement],
                         present_crds: frozenset[str]) -> list[Prerequisite]:
    """An operator the chart relies on but does not install (chart/requirements.py) whose CRD is absent."""
    findings: list[Prerequisite] = []
    seen: set[tuple[str, str]] = set()
    for needed in requirements:
        if needed.crd in present_crds or (needed.component, needed.crd) in seen:
            continue
        seen.add((needed.component, needed.crd))
        command = needed.install_command
        findings.append(Prerequisite(
            "operator", f"{needed.component} needs the operator that defines CRD {needed.crd}, which the "
            "cluster lacks (this chart does not install that operator)",
            f"install it first: `{command}`" if command else "install it first"))
    return findings


def conflict(observed: Observed, release: Release, custom_resources: dict[str, int]) -> Conflict:
    assert observed.live is not None, "only an existing object conflicts"
    ownership = classify(observed.live, release)
    crd = None
    if is_kubeflow_crd(observed.ref):
        names = (observed.rendered.get("spec") or {}).get("names") or {}
        crd = CrdImpact(str(names.get("kind") or observed.ref.name), custom_resources.get(observed.ref.name),
                        _keeps(observed.rendered), _keeps(observed.live))
    refusal = helm_refusal(observed.live, release) or ""
    found = Conflict(observed.ref, observed.component, ownership, refusal, crd)
    return Conflict(found.ref, found.component, ownership, refusal, crd, ways_out(found, release))


def adoption_refusal(found: Conflict, allow_other_releases: bool) -> str | None:
    """Why --adopt leaves this object alone, or None when it may adopt it."""
    if not found.owned_by_other_release or allow_other_releases:
        return None
    other = found.ownership.release
    assert other is not None
    lost = f"it and every {found.crd.kind}" if found.crd and not found.crd.live_kept else "it"
    return (f"{found.ref} belongs to Helm release {other.name} (namespace {other.namespace}), which still "
            f"lists it: adopted, it would be in two releases; {other.name}'s upgrades would overwrite it and "
            f"`helm uninstall {other.name}` would delete {lost}. Take it out of that release first, or add "
            f"`{OTHER_RELEASE_FLAG}` to adopt it anyway.")


def ways_out(found: Conflict, release: Release) -> tuple[str, ...]:
    """What to do about a conflict, as lettered steps; commands and flags are in backticks."""
    if found.crd is not None:
        return _crd_ways_out(found, found.crd, release)
    delete_command = f"`{found.ref.kubectl_delete()}`"
    other = found.ownership.release if found.owned_by_other_release else None
    if found.ref.kind == "Namespace":
        delete = ("delete it only if it is empty, because deleting a namespace deletes everything in it: "
                  f"{delete_command}")
    elif other:
        delete = (f"delete it only if release {other.name} no longer needs it; better, take it out of that "
                  f"release (turn off what renders it there, or "
                  f"`helm uninstall {other.name} --namespace {other.namespace}`), or {delete_command}")
    else:
        delete = f"if nothing else uses it, delete it and let the chart create it: {delete_command}"
    adopt = _adopt_text(found, release)
    if found.ref.kind == "Namespace":
        adopt += f"; `helm uninstall {release.name}` then deletes the namespace and everything in it"
    steps = [f"(a) {delete}", f"(b) {adopt}"]
    if found.ref.kind == "Namespace" and found.component in NAMESPACE_SWITCH_COMPONENTS:
        steps.append(f"(c) or leave it out of the release and use it as it is: "
                     f"`--set {found.component}.namespace.create=false`")
    if found.ownership.controllers:
        steps.append(f"note: {', '.join(found.ownership.controllers)} owns it (ownerReferences): deleting "
                     "that deletes it too, whichever way you choose")
    return tuple(steps)


def _adopt_text(found: Conflict, release: Release) -> str:
    other = found.ownership.release if found.owned_by_other_release else None
    if other:
        return (f"adopting it is refused unless you add `{OTHER_RELEASE_FLAG}`: release {other.name} still "
                f"lists it, so its upgrades would overwrite it and `helm uninstall {other.name}` would "
                f"delete it from under {release.name}")
    return (f"adopt it: `hyperpod-deps install --adopt` labels it {MANAGED_BY_LABEL}={HELM} and annotates it "
            f"{RELEASE_NAME_ANNOTATION}={release.name}, {RELEASE_NAMESPACE_ANNOTATION}={release.namespace} "
            f"(nothing else changes); helm then updates it to the chart's version, and "
            f"`helm uninstall {release.name}` deletes it")


def _crd_ways_out(found: Conflict, crd: CrdImpact, release: Release) -> tuple[str, ...]:
    jobs, count = f"{crd.kind}s", crd.custom_resources
    other = found.ownership.release if found.owned_by_other_release else None
    if count is None:
        delete = (f"do not delete it: its {jobs} could not be counted, and deleting a CRD deletes every "
                  f"{crd.kind}")
    elif count > 0:
        delete = (f"do not delete it: deleting a CRD deletes every {crd.kind} with it, and {count} "
                  f"{'exists' if count == 1 else 'exist'} now")
    else:
        user = f"release {other.name} and its operator no longer use" if other else "no operator or tool uses"
        delete = f"delete it only if {user} it (no {crd.kind} exists now): `{found.ref.kubectl_delete()}`"
    if other:
        fate = ("keeps it (helm.sh/resource-policy: keep)" if crd.live_kept
                else f"would delete it together with every {crd.kind}")
        adopt = (f"adopting it is refused unless you add `{OTHER_RELEASE_FLAG}`: release {other.name} still "
                 f"lists the CRD, so its upgrades would change the schema under {release.name}, and "
                 f"`helm uninstall {other.name}` {fate}")
    else:
        fate = ("keeps it (helm.sh/resource-policy: keep)" if crd.kept_on_uninstall
                else f"deletes it and every {crd.kind} with it (crds.keep=false)")
        adopt = (f"adopt it (`hyperpod-deps install --adopt`): this release then owns the CRD; its upgrades "
                 f"change the CRD to the schema this chart pins, which existing {jobs} and any operator "
                 f"running now must accept, and `helm uninstall {release.name}` {fate}")
    if found.component != "-":
        keep = (f"(c) or leave the CRD to its current owner: `--set {found.component}.crds.enabled=false` "
                f"installs the operator without it; if that owner runs the operator too, "
                f"`--set {found.component}.enabled=false`, so two operators never reconcile the same {jobs}")
    else:
        keep = "(c) or leave the CRD to its current owner: turn off what renders it in this chart"
    return (f"(a) {delete}", f"(b) {adopt}", keep)


def _keeps(obj: Manifest) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(RESOURCE_POLICY_ANNOTATION) == "keep"


def _version_findings(server_version: str, kube_version: str | None) -> Iterable[Prerequisite]:
    if not kube_version:
        return []
    try:
        if satisfies(server_version, kube_version):
            return []
    except (UnsupportedConstraint, ValueError) as error:
        return [Prerequisite("kubernetes-version", f"could not check Kubernetes {server_version} against the "
                             f"chart's kubeVersion {kube_version}: {error}", "compare the versions by hand")]
    return [Prerequisite("kubernetes-version", f"Kubernetes {server_version} does not satisfy the chart's "
                         f"kubeVersion {kube_version}",
                         "use a cluster of a supported version (helm install refuses this one too)")]


def _namespace_findings(facts: ClusterFacts, release: Release) -> list[Prerequisite]:
    created = {o.ref.name for o in facts.observed if o.ref.kind == "Namespace"}
    needed: dict[str, list[Observed]] = {release.namespace: []}
    for observed in facts.observed:
        if observed.ref.namespace:
            needed.setdefault(observed.ref.namespace, []).append(observed)
    findings = []
    for namespace, users in needed.items():
        if namespace in facts.namespaces or namespace in created:
            continue
        what = ", ".join(str(o.ref) for o in users) or f"the release record of {release.name}"
        findings.append(Prerequisite("namespace", f"namespace {namespace} does not exist; needed by {what}",
                                     missing_namespace_fix(namespace, {o.component for o in users})))
    return findings


def missing_namespace_fix(namespace: str, components: set[str]) -> str:
    create = f"`kubectl create namespace {namespace}`"
    if "storage" in components:
        return (f"storage.namespace is where the jobs that mount the claim run: create it, {create}, "
                "or set storage.namespace to one that exists")
    if "team-role-and-bindings" in components:
        return ("HyperPod task governance creates it with the team's compute quota; without task "
                f"governance, {create}, or `--set team-role-and-bindings.namespace.create=true`")
    switchable = sorted(components & NAMESPACE_SWITCH_COMPONENTS)
    if switchable:
        return f"{create}, or let the chart create it: `--set {switchable[0]}.namespace.create=true`"
    return create
