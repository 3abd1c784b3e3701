"""Our chart grants what HyperPod's chart grants, under the same names (docs/upstream-grants.md).

HyperPod's control plane acts in the cluster as the User hyperpod-service-linked-role, and its
deep health checks as the ServiceAccount aws-hyperpod/deep-health-check-service-account: a
grant that HyperPod's chart gives them and ours does not breaks a HyperPod feature after
`helm upgrade` from that chart to ours. These tests render both charts, resolve every binding
to what it grants (tests/support/rbac.py) and compare, so a grant added upstream later fails
here until ours grants it too or it is added, with its reason, to the omissions below.

The upstream chart is read from $HYPERPOD_UPSTREAM_CHART, else ../shared/upstream/hyperpod-helm-chart
beside the checkout (see /work/shared/upstream/PROVENANCE.md); without it these tests skip.
"""
from __future__ import annotations

import pytest

from hyperpod_deps.core.manifest import Manifest
from tests.support.charts import Renderer
from tests.support.rbac import CLUSTER_WIDE, Grant, Subject, describe, grants, missing, subject_of
from tests.support.upstream import UPSTREAM_CHART as UPSTREAM
from tests.support.upstream import requires_upstream

pytestmark = requires_upstream

SERVICE_USER = Subject("User", "hyperpod-service-linked-role")
CHECK_PODS = Subject("ServiceAccount", "deep-health-check-service-account", "aws-hyperpod")
AUTO_RESTART = Subject("ServiceAccount", "job-auto-restart", "aws-hyperpod")

# Renders that turn every role chart on, in both charts (the keys are upstream's).
ROLE_CHARTS = (
    "cluster-role-and-bindings.enabled=true",
    "namespaced-role-and-bindings.enabled=true",
    "team-role-and-bindings.enabled=true",
    "team-role-and-bindings.computeQuotaTarget.targetId=team-a",
)
SCENARIOS = {"defaults": (), "role-charts": ROLE_CHARTS}
NO_CRDS = ("trainingOperators.crds.enabled=false", "mpi-operator.crds.enabled=false")


def not_a_verb(grant: Grant) -> bool:
    # Kubernetes has no "describe" verb: `kubectl describe` sends get and list. Upstream's
    # job-auto-restart ClusterRole lists it; a grant of it allows nothing.
    return grant.verb == "describe"


# What ours deliberately does not grant the HyperPod subjects, each with its reason.
# Every other upstream grant to them must be ours too.
SERVICE_OMISSIONS = {"the verb describe, which does not exist": not_a_verb}


@pytest.fixture(scope="module")
def upstream(render3: Renderer) -> dict[str, dict[Subject, set[Grant]]]:
    return {name: grants(render3(*values, chart=UPSTREAM)) for name, values in SCENARIOS.items()}


@pytest.fixture(scope="module")
def ours(render3: Renderer) -> dict[str, dict[Subject, set[Grant]]]:
    return {name: grants(render3(*values, *NO_CRDS)) for name, values in SCENARIOS.items()}


def unexplained(lacking: set[Grant]) -> set[Grant]:
    return {g for g in lacking if not any(rule(g) for rule in SERVICE_OMISSIONS.values())}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("subject", [SERVICE_USER, CHECK_PODS, AUTO_RESTART], ids=str)
def test_ours_grants_everything_upstream_grants_hyperpod(
    upstream: dict[str, dict[Subject, set[Grant]]],
    ours: dict[str, dict[Subject, set[Grant]]],
    scenario: str,
    subject: Subject,
) -> None:
    lacking = missing(ours[scenario].get(subject, set()), upstream[scenario].get(subject, set()))
    assert not unexplained(lacking), f"{subject} lacks:\n{describe(unexplained(lacking))}"


def test_the_service_role_holds_the_documented_grants(upstream: dict[str, dict[Subject, set[Grant]]]) -> None:
    """Pins what upstream grants today, so a change upstream is noticed here and in the docs."""
    held = upstream["defaults"][SERVICE_USER]
    assert all(g.namespace == CLUSTER_WIDE for g in held), "upstream grants it cluster-wide only"
    triples = {(g.api_group, g.resource, g.verb) for g in held}
    assert ("coordination.k8s.io", "leases", "create") in triples
    assert ("", "pods/eviction", "create") in triples
    assert ("kubeflow.org", "pytorchjobs", "delete") in triples
    assert len(triples) == 37, describe(held)


def test_every_omission_is_still_needed(upstream: dict[str, dict[Subject, set[Grant]]]) -> None:
    """An omission upstream no longer grants is stale: remove it here and in the docs."""
    held = upstream["defaults"][SERVICE_USER]
    for reason, rule in SERVICE_OMISSIONS.items():
        assert any(rule(g) for g in held), reason


def test_our_extra_grants_to_the_service_role_are_the_launchers(
    upstream: dict[str, dict[Subject, set[Grant]]], ours: dict[str, dict[Subject, set[Grant]]]
) -> None:
    """Beyond upstream, the service role gets only what launching the deep health checks needs."""
    extra = missing(upstream["defaults"][SERVICE_USER], ours["defaults"][SERVICE_USER])
    assert {(g.namespace, g.resource, g.verb) for g in extra} == {
        ("aws-hyperpod", "pods", "create"),
        ("aws-hyperpod", "pods/log", "get"),
        (CLUSTER_WIDE, "events", "patch"),
    }


# --- the scientists' and teams' groups (role charts) -----------------------------------------

CLUSTER_GROUP = Subject("Group", "hyperpod-scientist-user-cluster-role-cluster-level")
NAMESPACE_GROUP = Subject("Group", "hyperpod-scientist-user-namespace-level-role-kubeflow-level")
TEAM_GROUP = Subject("Group", "hyperpod-ns-team-a-namespace-level-group")

# What our role charts deliberately leave out of upstream's, as (resource, verb) in the
# group's namespace; the reasons are in docs/upstream-grants.md ("Role charts").
# Both sides are exact: a grant upstream adds, or one ours drops, fails the test.
STATUS_WRITES = {("kubeflow.org", "pytorchjobs/status", v) for v in ("create", "update", "delete")}
STATUS_READS = {("kubeflow.org", "pytorchjobs/status", v) for v in ("get", "list")}
# ConfigMaps and Secrets are granted only as AWS's HyperPod client writes them (configmaps
# create, delete; secrets create: docs/client-roles.md); reading them back is left out.
CONFIG_AND_SECRETS = {("", "configmaps", v) for v in ("update", "get")} | {
    ("", "secrets", v) for v in ("get", "list", "delete")
}
NAMESPACE_OMISSIONS = {
    *STATUS_WRITES,
    *STATUS_READS,
    *CONFIG_AND_SECRETS,
    ("", "configmaps", "list"),
    ("", "pods", "create"),
    ("", "pods/exec", "create"),
    ("", "pods/exec", "get"),
    ("", "pods/log", "list"),
    ("kubeflow.org", "pytorchjobs", "describe"),
    ("kubeflow.org", "pytorchjobs/status", "describe"),
}
TEAM_OMISSIONS = {
    *STATUS_WRITES,
    *STATUS_READS,
    *CONFIG_AND_SECRETS,
    ("kubeflow.org", "pytorchjobs/status", "watch"),
    ("", "pods", "create"),
    ("", "pods/log", "list"),
    ("", "pods/status", "get"),
    ("", "pods/status", "list"),
    ("", "pods/status", "watch"),
    ("", "serviceaccounts", "get"),
    ("", "serviceaccounts", "list"),
    ("kueue.x-k8s.io", "workloads/status", "get"),
    ("kueue.x-k8s.io", "workloads/status", "list"),
    ("kueue.x-k8s.io", "workloads/status", "watch"),
    ("kueue.x-k8s.io", "workloads/status", "patch"),
}


@pytest.mark.parametrize(
    "subject, omitted",
    [(CLUSTER_GROUP, set()), (NAMESPACE_GROUP, NAMESPACE_OMISSIONS), (TEAM_GROUP, TEAM_OMISSIONS)],
    ids=["cluster-role", "namespaced-role", "team-role"],
)
def test_role_charts_grant_upstreams_roles_less_the_documented_omissions(
    upstream: dict[str, dict[Subject, set[Grant]]],
    ours: dict[str, dict[Subject, set[Grant]]],
    subject: Subject,
    omitted: set[tuple[str, str, str]],
) -> None:
    assert subject in ours["role-charts"], f"ours binds no {subject}"
    lacking = missing(ours["role-charts"][subject], upstream["role-charts"][subject])
    assert {(g.api_group, g.resource, g.verb) for g in lacking} == omitted, describe(lacking)


# --- the same objects, by name ---------------------------------------------------------------

RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
# Each upstream subchart with values it takes (its defaults, then other values of its keys),
# rendered on its own; ours renders the same values under the subchart's key of the umbrella.
SUBCHART_VALUES: list[tuple[str, tuple[str, ...]]] = [
    ("deep-health-check", ()),
    ("deep-health-check", ("namespace=gpu-checks",)),
    ("job-auto-restart", ()),
    ("job-auto-restart", ("namespace=hyperpod-system",)),
    ("hyperpod-patching", ()),
    ("cluster-role-and-bindings", ()),
    ("cluster-role-and-bindings", ("roleName=ml-readers",)),
    ("namespaced-role-and-bindings", ()),
    ("namespaced-role-and-bindings", ("namespace=ml-research", "roleName=ml-runners")),
    ("team-role-and-bindings", ("computeQuotaTarget.targetId=team-b",)),
]


def refs(objects: list[Manifest]) -> dict[tuple[str, str, str], Manifest]:
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
        for o in objects
        if o["kind"] in RBAC_KINDS
    }


@pytest.mark.parametrize(
    "subchart, values", SUBCHART_VALUES, ids=[f"{c}:{','.join(v) or 'defaults'}" for c, v in SUBCHART_VALUES]
)
def test_upstreams_objects_exist_in_ours_by_name(
    render3: Renderer, subchart: str, values: tuple[str, ...]
) -> None:
    theirs = refs(render3(*values, chart=UPSTREAM / "charts" / subchart, namespace="kube-system"))
    ours = refs(render3(*NO_CRDS, f"{subchart}.enabled=true", *(f"{subchart}.{v}" for v in values)))
    assert theirs, "upstream rendered nothing to compare"
    absent = sorted(set(theirs) - set(ours))
    assert not absent, f"upstream objects ours lacks: {absent}"
    for ref, obj in theirs.items():
        if ref[0].endswith("Binding"):
            assert ours[ref]["roleRef"]["name"] == obj["roleRef"]["name"], ref
            assert ours[ref]["roleRef"]["kind"] == obj["roleRef"]["kind"], ref
            wanted = {subject_of(s) for s in obj["subjects"]}
            assert wanted <= {subject_of(s) for s in ours[ref]["subjects"]}, ref
