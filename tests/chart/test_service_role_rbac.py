"""job-auto-restart and hyperpod-patching: RBAC for HyperPod's service role."""
from __future__ import annotations

import pytest

from hyperpod_deps.chart.render import RenderError
from tests.chart.test_roles import assert_least_privilege
from tests.support.charts import Renderer, named, of_kind

SERVICE_USER = {
    "apiGroup": "rbac.authorization.k8s.io",
    "kind": "User",
    "name": "hyperpod-service-linked-role",
}


def test_patching_grants_exactly_list_pods_and_create_evictions(render: Renderer) -> None:
    objects = render()
    role = named(objects, "ClusterRole", "hyperpod-patching")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    ]
    binding = named(objects, "ClusterRoleBinding", "hyperpod-patching")
    assert binding["subjects"] == [SERVICE_USER]
    assert binding["roleRef"]["name"] == "hyperpod-patching"


def test_auto_restart_binds_the_service_role_to_pytorchjobs_by_default(render: Renderer) -> None:
    objects = render()
    role = named(objects, "ClusterRole", "job-auto-restart")
    job_rules = [r for r in role["rules"] if r["apiGroups"] == ["kubeflow.org"]]
    assert job_rules == [
        {
            "apiGroups": ["kubeflow.org"],
            "resources": ["pytorchjobs", "pytorchjobs/status"],
            "verbs": ["get", "list", "watch", "patch", "update", "delete"],
        }
    ]
    lease_rules = [r for r in role["rules"] if r["apiGroups"] == ["coordination.k8s.io"]]
    assert lease_rules == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update", "delete"],
        }
    ]
    assert_least_privilege(role)
    binding = named(objects, "ClusterRoleBinding", "job-auto-restart")
    assert binding["subjects"] == [SERVICE_USER]


def test_auto_restart_never_creates_jobs_or_pods(render3: Renderer) -> None:
    """HyperPod resumes jobs by deleting their pods; it never submits a job or a pod itself."""
    role = named(render3(), "ClusterRole", "job-auto-restart")
    for rule in role["rules"]:
        if set(rule["resources"]) & {"pytorchjobs", "pods"}:
            assert "create" not in rule["verbs"], rule


def test_auto_restart_service_account_is_hyperpods(render3: Renderer) -> None:
    """HyperPod's chart creates ServiceAccount aws-hyperpod/job-auto-restart; ours does on hyperpod."""
    account = named(render3(), "ServiceAccount", "job-auto-restart")
    assert account["metadata"]["namespace"] == "aws-hyperpod"
    for value in ("job-auto-restart.namespace=ops", "job-auto-restart.namespace.name=ops"):
        moved = named(render3(value), "ServiceAccount", "job-auto-restart")
        assert moved["metadata"]["namespace"] == "ops", value
    generic = render3("global.platform=generic", "health-monitoring-agent.enabled=false")
    assert "job-auto-restart" not in [a["metadata"]["name"] for a in of_kind(generic, "ServiceAccount")]


def test_auto_restart_job_kinds_extend(render3: Renderer) -> None:
    objects = render3("job-auto-restart.jobResources={pytorchjobs,mpijobs}")
    role = named(objects, "ClusterRole", "job-auto-restart")
    (job_rule,) = [r for r in role["rules"] if r["apiGroups"] == ["kubeflow.org"]]
    assert job_rule["resources"] == ["pytorchjobs", "pytorchjobs/status", "mpijobs", "mpijobs/status"]


def test_auto_restart_rejects_an_unknown_job_kind(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="jobResources"):
        render3("job-auto-restart.jobResources={pytorchjob}")


def test_auto_restart_rejects_a_bad_namespace(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="namespace"):
        render3("job-auto-restart.namespace=Not_A_Name")


@pytest.mark.parametrize("component", ["job-auto-restart", "hyperpod-patching"])
def test_turning_a_component_off_removes_its_objects(render3: Renderer, component: str) -> None:
    objects = render3(f"{component}.enabled=false")
    assert not [o for o in of_kind(objects, "ClusterRole") if o["metadata"]["name"] == component]
