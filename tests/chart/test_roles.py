"""cluster-role-and-bindings and namespaced-role-and-bindings: RBAC for data scientists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.kubernetes_facts import CLUSTER_SCOPED_RESOURCES, RBAC_VERBS
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART, Renderer, named, of_kind

# Cluster-scoped resources that must never appear in a Role (a Role only ever
# applies inside its namespace, so granting them there grants nothing). The one
# exception is get on namespaces: the API server checks it against the namespace
# read, so a Role grants reading its own namespace.
NEVER_IN_A_ROLE = CLUSTER_SCOPED_RESOURCES | {
    "nodes",
    "namespaces",
    "clusterqueues",
    "resourceflavors",
    "priorityclasses",
    "workloadpriorityclasses",
    "persistentvolumes",
    "customresourcedefinitions",
}

# What AWS's SageMaker HyperPod client needs besides the Kubeflow jobs (docs/client-roles.md).
HYPERPOD_CLIENT_RULES = [
    {"apiGroups": ["sagemaker.amazonaws.com"], "resources": ["hyperpodpytorchjobs"],
     "verbs": ["create", "get", "list", "watch", "patch", "update", "delete"]},
    {"apiGroups": ["sagemaker.amazonaws.com"], "resources": ["hyperpodpytorchjobs/status"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "delete"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
]
CLUSTER_ROLE = "hyperpod-scientist-user-cluster-role"
# HyperPod's chart's group names: <roleName>-cluster-level and <roleName>-<namespace>-level.
CLUSTER_GROUP = "hyperpod-scientist-user-cluster-role-cluster-level"
NAMESPACE_ROLE = "hyperpod-scientist-user-namespace-level-role"
NAMESPACE_GROUP = "hyperpod-scientist-user-namespace-level-role-kubeflow-level"
JOB_VERBS = ["create", "get", "list", "watch", "patch", "update", "delete"]


def group(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def assert_least_privilege(role: Manifest) -> None:
    """Real verbs only, no wildcards, and no cluster-scoped resource in a Role."""
    for rule in role["rules"]:
        assert rule["verbs"], rule
        for verb in rule["verbs"]:
            assert verb in RBAC_VERBS, f"{role['metadata']['name']}: {verb!r} is not a verb"
        for key in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(key, []), f"{role['metadata']['name']}: wildcard in {key}"
        if role["kind"] == "Role":
            if rule["resources"] == ["namespaces"] and rule["verbs"] == ["get"]:
                continue  # checked against the namespace read: the Role's own (docs/client-roles.md)
            for resource in rule["resources"]:
                assert resource.split("/")[0] not in NEVER_IN_A_ROLE, (
                    f"Role {role['metadata']['name']} grants cluster-scoped {resource}"
                )


def install_notes(*set_values: str, chart: Path = CHART) -> str:
    """The NOTES Helm prints on install (Helm 4's client-side dry run needs no cluster)."""
    args = [str(helm_path(4)), "install", "dependencies", str(chart)]
    args += ["--namespace", "kube-system", "--dry-run=client"]
    for assignment in set_values:
        args += ["--set", assignment]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return result.stdout.split("NOTES:", 1)[1]


# --- cluster-role-and-bindings ------------------------------------------------


def test_cluster_role_is_read_only_and_bound_to_the_scientist_group(render: Renderer) -> None:
    objects = render("cluster-role-and-bindings.enabled=true")
    role = named(objects, "ClusterRole", CLUSTER_ROLE)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]},
        {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
    ]
    assert_least_privilege(role)
    binding = named(objects, "ClusterRoleBinding", f"{CLUSTER_ROLE}-binding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": CLUSTER_ROLE,
    }
    assert binding["subjects"] == [group(CLUSTER_GROUP)]


def test_cluster_role_is_off_by_default(render3: Renderer) -> None:
    names = [o["metadata"]["name"] for o in of_kind(render3(), "ClusterRole")]
    assert CLUSTER_ROLE not in names


def test_cluster_role_can_leave_pods_out(render3: Renderer) -> None:
    objects = render3(
        "cluster-role-and-bindings.enabled=true",
        "cluster-role-and-bindings.readPodsInAllNamespaces=false",
    )
    resources = [r["resources"] for r in named(objects, "ClusterRole", CLUSTER_ROLE)["rules"]]
    assert ["pods"] not in resources
    assert ["nodes"] in resources


def test_cluster_role_and_group_names_are_configurable(render3: Renderer) -> None:
    objects = render3(
        "cluster-role-and-bindings.enabled=true",
        "cluster-role-and-bindings.roleName=ml-read",
        "cluster-role-and-bindings.groupName=ml:scientists",
    )
    binding = named(objects, "ClusterRoleBinding", "ml-read-binding")
    assert binding["roleRef"]["name"] == "ml-read"
    assert binding["subjects"] == [group("ml:scientists")]
    named(objects, "ClusterRole", "ml-read")


def test_the_default_group_follows_the_role_name_as_upstream(render3: Renderer) -> None:
    objects = render3("cluster-role-and-bindings.enabled=true", "cluster-role-and-bindings.roleName=ml-read")
    assert named(objects, "ClusterRoleBinding", "ml-read-binding")["subjects"] == [
        group("ml-read-cluster-level")
    ]


@pytest.mark.parametrize(
    "assignment, error",
    [
        ("cluster-role-and-bindings.groupname=x", "groupname"),
        ("cluster-role-and-bindings.roleName=Read_Only", "roleName"),
        ("cluster-role-and-bindings.readPodsInAllNamespaces=yes", "readPodsInAllNamespaces"),
    ],
)
def test_cluster_role_schema_rejects_typos(render3: Renderer, assignment: str, error: str) -> None:
    with pytest.raises(RenderError, match=error):
        render3("cluster-role-and-bindings.enabled=true", assignment)


# --- namespaced-role-and-bindings ---------------------------------------------


def test_namespaced_role_grants_running_jobs_in_kubeflow(render: Renderer) -> None:
    objects = render("namespaced-role-and-bindings.enabled=true")
    role = named(objects, "Role", NAMESPACE_ROLE)
    assert role["metadata"]["namespace"] == "kubeflow"
    assert role["rules"] == [
        {"apiGroups": ["kubeflow.org"], "resources": ["pytorchjobs", "mpijobs"], "verbs": JOB_VERBS},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": JOB_VERBS},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        *HYPERPOD_CLIENT_RULES,
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    ]
    assert_least_privilege(role)
    binding = named(objects, "RoleBinding", f"{NAMESPACE_ROLE}-binding")
    assert binding["metadata"]["namespace"] == "kubeflow"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": NAMESPACE_ROLE,
    }
    assert binding["subjects"] == [group(NAMESPACE_GROUP)]
    # kubeflow itself comes from the umbrella (the training operator's namespace), not this chart.
    assert [o for o in of_kind(objects, "Namespace")
            if o["metadata"]["labels"]["app.kubernetes.io/component"] == "namespaced-role-and-bindings"] == []


def test_namespaced_role_is_off_by_default(render3: Renderer) -> None:
    assert NAMESPACE_ROLE not in [o["metadata"]["name"] for o in of_kind(render3(), "Role")]


def test_namespaced_role_can_create_its_namespace(render3: Renderer) -> None:
    objects = render3(
        "namespaced-role-and-bindings.enabled=true",
        "namespaced-role-and-bindings.namespace.name=ml-research",
        "namespaced-role-and-bindings.namespace.create=true",
    )
    namespace = named(objects, "Namespace", "ml-research")
    assert namespace["metadata"]["labels"]["app.kubernetes.io/part-of"] == "hyperpod-deps"
    assert named(objects, "Role", NAMESPACE_ROLE)["metadata"]["namespace"] == "ml-research"
    assert (
        named(objects, "RoleBinding", f"{NAMESPACE_ROLE}-binding")["metadata"]["namespace"] == "ml-research"
    )


def test_exec_is_granted_only_when_asked(render3: Renderer) -> None:
    exec_rule = {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}
    without = named(render3("namespaced-role-and-bindings.enabled=true"), "Role", NAMESPACE_ROLE)
    assert exec_rule not in without["rules"]
    with_exec = named(
        render3("namespaced-role-and-bindings.enabled=true", "namespaced-role-and-bindings.allowExec=true"),
        "Role",
        NAMESPACE_ROLE,
    )
    assert exec_rule in with_exec["rules"]


def test_job_kinds_are_configurable_and_may_be_empty(render3: Renderer) -> None:
    tf_only = named(
        render3(
            "namespaced-role-and-bindings.enabled=true", "namespaced-role-and-bindings.jobResources={tfjobs}"
        ),
        "Role",
        NAMESPACE_ROLE,
    )
    assert tf_only["rules"][0] == {"apiGroups": ["kubeflow.org"], "resources": ["tfjobs"], "verbs": JOB_VERBS}
    batch_only = named(
        render3(
            "namespaced-role-and-bindings.enabled=true", "namespaced-role-and-bindings.jobResources=null"
        ),
        "Role",
        NAMESPACE_ROLE,
    )
    assert [r for r in batch_only["rules"] if "kubeflow.org" in r["apiGroups"]] == []
    assert batch_only["rules"][0]["resources"] == ["jobs"]


def test_upstreams_string_namespace_and_role_name_set_the_group(render3: Renderer) -> None:
    """HyperPod's chart takes namespace as a name and binds <roleName>-<namespace>-level."""
    objects = render3(
        "namespaced-role-and-bindings.enabled=true",
        "namespaced-role-and-bindings.namespace=ml-research",
        "namespaced-role-and-bindings.roleName=ml-runner",
    )
    assert named(objects, "Role", "ml-runner")["metadata"]["namespace"] == "ml-research"
    binding = named(objects, "RoleBinding", "ml-runner-binding")
    assert binding["metadata"]["namespace"] == "ml-research"
    assert binding["subjects"] == [group("ml-runner-ml-research-level")]
    assert "Namespace" not in [o["kind"] for o in objects if o["metadata"]["name"] == "ml-research"]
    explicit = render3(
        "namespaced-role-and-bindings.enabled=true",
        "namespaced-role-and-bindings.namespace.name=ml-research",
        "namespaced-role-and-bindings.groupName=scientists",
    )
    assert named(explicit, "RoleBinding", f"{NAMESPACE_ROLE}-binding")["subjects"] == [group("scientists")]


@pytest.mark.parametrize(
    "assignment, error",
    [
        ("namespaced-role-and-bindings.namespace=Team_A", "namespace"),
        ("namespaced-role-and-bindings.namespace.nmae=x", "nmae"),
        ("namespaced-role-and-bindings.namespace.name=Team_A", "name"),
        ("namespaced-role-and-bindings.jobResources={pytorchjob}", "jobResources"),
        ("namespaced-role-and-bindings.allowexec=true", "allowexec"),
    ],
)
def test_namespaced_role_schema_rejects_typos(render3: Renderer, assignment: str, error: str) -> None:
    with pytest.raises(RenderError, match=error):
        render3("namespaced-role-and-bindings.enabled=true", assignment)


# --- scenarios and NOTES ------------------------------------------------------


def test_cluster_role_scenario(render3: Renderer) -> None:
    objects = render3(values_files=[CHART / "ci/50-cluster-role-values.yaml"])
    role = named(objects, "ClusterRole", CLUSTER_ROLE)
    assert [r["resources"] for r in role["rules"]] == [["nodes"], ["namespaces"], ["priorityclasses"]]
    binding = named(objects, "ClusterRoleBinding", f"{CLUSTER_ROLE}-binding")
    assert binding["subjects"] == [group("ml-scientists")]


def test_namespaced_role_scenario(render3: Renderer) -> None:
    objects = render3(values_files=[CHART / "ci/51-namespaced-role-values.yaml"])
    named(objects, "Namespace", "ml-research")
    role = named(objects, "Role", NAMESPACE_ROLE)
    assert role["metadata"]["namespace"] == "ml-research"
    assert role["rules"][0]["resources"] == ["pytorchjobs", "mpijobs", "tfjobs"]
    assert {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]} in role["rules"]
    assert_least_privilege(role)


def test_notes_name_the_roles_and_how_to_check_them() -> None:
    notes = install_notes(
        "cluster-role-and-bindings.enabled=true", "namespaced-role-and-bindings.enabled=true"
    )
    assert f"ClusterRole {CLUSTER_ROLE} bound to group {CLUSTER_GROUP}" in notes
    assert f"Role {NAMESPACE_ROLE} in namespace kubeflow (must already exist)" in notes
    assert (
        f"kubectl auth can-i create jobs --namespace kubeflow --as=someone --as-group={NAMESPACE_GROUP}"
        in notes
    )
    assert "cluster-role-and-bindings" not in install_notes()
