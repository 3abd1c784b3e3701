"""deep-health-check: the ServiceAccount and RBAC the deep health checks run with.

The namespace itself (aws-hyperpod, Pod Security privileged) is created by the umbrella chart.
"""

from __future__ import annotations

import pytest

from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.manifest import Manifest
from tests.chart.test_roles import assert_least_privilege, install_notes
from tests.support.charts import CHART, Renderer, named, of_kind

NAME = "dependencies-deep-health-check"
SERVICE_ACCOUNT = "deep-health-check-service-account"
# HyperPod's chart's names for the check pods' cluster-wide role and its binding.
CHECK_ROLE = "deep-health-check-service-account-role"
SERVICE_USER = {
    "apiGroup": "rbac.authorization.k8s.io",
    "kind": "User",
    "name": "hyperpod-service-linked-role",
}


# A cluster without the HyperPod control plane. The AWS health agent runs only on
# HyperPod nodes, so a generic install turns it off.
GENERIC = ("global.platform=generic", "health-monitoring-agent.enabled=false")


def check_pods_subject(namespace: str = "aws-hyperpod") -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}


def ours(objects: list[Manifest]) -> list[Manifest]:
    return [
        o
        for o in objects
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "deep-health-check"
    ]


def test_defaults_create_the_check_identity_under_hyperpods_names(render: Renderer) -> None:
    objects = render()
    assert of_kind(ours(objects), "Namespace") == [], "the umbrella chart creates aws-hyperpod"
    account = named(objects, "ServiceAccount", SERVICE_ACCOUNT)
    assert account["metadata"]["namespace"] == "aws-hyperpod"

    cluster_role = named(objects, "ClusterRole", CHECK_ROLE)
    assert cluster_role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "patch"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    cluster_binding = named(objects, "ClusterRoleBinding", f"{CHECK_ROLE}-binding")
    assert cluster_binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CHECK_ROLE
    }
    assert cluster_binding["subjects"] == [check_pods_subject()]

    role = named(objects, "Role", NAME)
    assert role["metadata"]["namespace"] == "aws-hyperpod"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    binding = named(objects, "RoleBinding", NAME)
    assert binding["metadata"]["namespace"] == "aws-hyperpod"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME}
    assert binding["subjects"] == [check_pods_subject()]

    launcher_cluster_role = named(objects, "ClusterRole", f"{NAME}-launcher")
    assert launcher_cluster_role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    assert named(objects, "ClusterRoleBinding", f"{NAME}-launcher")["subjects"] == [SERVICE_USER]

    launcher = named(objects, "Role", f"{NAME}-launcher")
    assert launcher["metadata"]["namespace"] == "aws-hyperpod"
    assert launcher["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]
    launcher_binding = named(objects, "RoleBinding", f"{NAME}-launcher")
    assert launcher_binding["roleRef"]["name"] == f"{NAME}-launcher"
    assert launcher_binding["subjects"] == [SERVICE_USER]

    for obj in of_kind(ours(objects), "Role") + of_kind(ours(objects), "ClusterRole"):
        assert_least_privilege(obj)
    assert len(ours(objects)) == 9


def test_the_service_role_is_not_bound_to_the_check_pods_role(render3: Renderer) -> None:
    """The check pods' cluster-wide pod access is theirs alone, not HyperPod's User's."""
    objects = render3()
    for binding in of_kind(ours(objects), "ClusterRoleBinding"):
        if binding["roleRef"]["name"] == CHECK_ROLE:
            assert SERVICE_USER not in binding["subjects"]


def test_the_check_pods_cannot_create_pods(render3: Renderer) -> None:
    """A pod created in a privileged namespace can take over its node: only the launcher may."""
    objects = render3()
    for kind in ("Role", "ClusterRole"):
        for role in of_kind(ours(objects), kind):
            if role["metadata"]["name"].endswith("-launcher"):
                continue
            for rule in role["rules"]:
                if "pods" in rule["resources"]:
                    assert "create" not in rule["verbs"], role["metadata"]["name"]


def test_generic_platform_binds_no_hyperpod_user(render3: Renderer) -> None:
    objects = render3(*GENERIC)
    assert named(objects, "ClusterRoleBinding", f"{CHECK_ROLE}-binding")["subjects"] == [check_pods_subject()]
    names = [o["metadata"]["name"] for o in ours(objects)]
    assert f"{NAME}-launcher" not in names
    assert NAME in [r["metadata"]["name"] for r in of_kind(objects, "Role")]
    for binding in of_kind(ours(objects), "ClusterRoleBinding") + of_kind(ours(objects), "RoleBinding"):
        assert SERVICE_USER not in binding["subjects"], binding["metadata"]["name"]


def test_an_existing_namespace_is_used_as_is(render3: Renderer) -> None:
    objects = render3(
        "deep-health-check.namespace.create=false", "deep-health-check.namespace.name=gpu-checks"
    )
    assert of_kind(ours(objects), "Namespace") == []
    for obj in ours(objects):
        if obj["kind"] in ("ServiceAccount", "Role", "RoleBinding"):
            assert obj["metadata"]["namespace"] == "gpu-checks", obj["kind"]
    assert named(objects, "ClusterRoleBinding", f"{CHECK_ROLE}-binding")["subjects"] == [
        check_pods_subject("gpu-checks")
    ]


def test_upstreams_string_namespace_means_the_same(render: Renderer) -> None:
    """HyperPod's chart takes `deep-health-check.namespace=<name>`; it means namespace.name."""
    as_string = render("deep-health-check.namespace=gpu-checks")
    as_object = render("deep-health-check.namespace.name=gpu-checks")
    assert ours(as_string) == ours(as_object)
    assert named(as_string, "ServiceAccount", SERVICE_ACCOUNT)["metadata"]["namespace"] == "gpu-checks"
    assert "in namespace gpu-checks (created, Pod Security enforce=privileged)" in install_notes(
        "deep-health-check.namespace=gpu-checks"
    )


def test_names_are_configurable(render3: Renderer) -> None:
    objects = render3(
        "deep-health-check.namespace.name=gpu-checks",
        "deep-health-check.namespace.podSecurityLevel=baseline",
        "deep-health-check.serviceAccount.name=dhc",
        "deep-health-check.serviceRoleUser=hyperpod-control-plane",
    )
    assert named(objects, "ServiceAccount", "dhc")["metadata"]["namespace"] == "gpu-checks"
    assert named(objects, "ClusterRoleBinding", f"{CHECK_ROLE}-binding")["subjects"] == [
        {"kind": "ServiceAccount", "name": "dhc", "namespace": "gpu-checks"}
    ]
    assert (
        named(objects, "RoleBinding", f"{NAME}-launcher")["subjects"][0]["name"] == "hyperpod-control-plane"
    )


def test_the_pod_security_level_reaches_the_umbrella() -> None:
    """The umbrella creates the namespace from namespace.create and namespace.podSecurityLevel."""
    notes = install_notes("deep-health-check.namespace.podSecurityLevel=baseline")
    assert "in namespace aws-hyperpod (created, Pod Security enforce=baseline)" in notes


def test_turning_it_off_removes_everything(render3: Renderer) -> None:
    objects = render3("deep-health-check.enabled=false")
    assert ours(objects) == []
    # The namespace stays: the health agent and HyperPod's job-auto-restart identity live there too.
    assert "aws-hyperpod" in [n["metadata"]["name"] for n in of_kind(objects, "Namespace")]


@pytest.mark.parametrize(
    "assignment, offender",
    [
        ("deep-health-check.namespace.nmae=x", "nmae"),
        ("deep-health-check.namespace.create=no", "create"),
        ("deep-health-check.namespace.podSecurityLevel=root", "podSecurityLevel"),
        ("deep-health-check.serviceAccount.nmae=x", "nmae"),
        ("deep-health-check.serviceRoleUser=", "serviceRoleUser"),
        ("deep-health-check.namespace.name=AWS_HyperPod", "name"),
        ("deep-health-check.namespace=AWS_HyperPod", "namespace"),
    ],
)
def test_schema_rejects_typos(render3: Renderer, assignment: str, offender: str) -> None:
    with pytest.raises(RenderError, match="schema") as error:
        render3(assignment)
    assert "deep-health-check" in str(error.value) and offender in str(error.value)


def test_existing_namespace_scenario(render3: Renderer) -> None:
    objects = render3(values_files=[CHART / "ci/53-deep-health-check-existing-namespace-values.yaml"])
    assert of_kind(ours(objects), "Namespace") == []
    assert named(objects, "ServiceAccount", SERVICE_ACCOUNT)["metadata"]["namespace"] == "kube-system"
    assert named(objects, "Role", f"{NAME}-launcher")["metadata"]["namespace"] == "kube-system"


def test_notes_say_where_the_checks_run() -> None:
    created = install_notes()
    assert (
        f"deep-health-check: ServiceAccount {SERVICE_ACCOUNT} and RBAC in namespace aws-hyperpod" in created
    )
    assert "(created, Pod Security enforce=privileged)" in created
    assert "User hyperpod-service-linked-role may launch the check pods" in created
    existing = install_notes("deep-health-check.namespace.create=false", *GENERIC)
    assert "namespace.create=false: aws-hyperpod must already exist" in existing
    assert "may launch the check pods" not in existing
