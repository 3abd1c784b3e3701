"""job-auto-restart and hyperpod-patching: RBAC for HyperPod's service role."""
from __future__ import annotations

import pytest

from hyperpod_deps.chart.render import RenderError
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
    assert job_rules[0]["resources"] == ["pytorchjobs"]
    assert job_rules[1]["resources"] == ["pytorchjobs/status"]
    assert "delete" not in job_rules[0]["verbs"], "the job itself is never deleted"
    binding = named(objects, "ClusterRoleBinding", "job-auto-restart")
    assert binding["subjects"] == [SERVICE_USER]


def test_auto_restart_job_kinds_extend(render3: Renderer) -> None:
    objects = render3("job-auto-restart.jobResources={pytorchjobs,mpijobs}")
    role = named(objects, "ClusterRole", "job-auto-restart")
    assert role["rules"][0]["resources"] == ["pytorchjobs", "mpijobs"]


def test_auto_restart_rejects_an_unknown_job_kind(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="jobResources"):
        render3("job-auto-restart.jobResources={pytorchjob}")


@pytest.mark.parametrize("component", ["job-auto-restart", "hyperpod-patching"])
def test_turning_a_component_off_removes_its_objects(render3: Renderer, component: str) -> None:
    objects = render3(f"{component}.enabled=false")
    assert not [o for o in of_kind(objects, "ClusterRole") if o["metadata"]["name"] == component]
