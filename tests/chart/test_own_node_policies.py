"""The node agents' own-node ValidatingAdmissionPolicies as rendered (docs/security.md).

What they allow and refuse is tested on the real API server (tests/e2e/test_own_node_policy.py);
here: when they are rendered, whom they match, and which keys each agent owns.
"""
from __future__ import annotations

import subprocess

import pytest
import yaml

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART, Renderer, named, of_kind

POLICY = "ValidatingAdmissionPolicy"
BINDING = "ValidatingAdmissionPolicyBinding"
AGENT_POLICY = "dependencies-health-monitoring-agent-own-node"
CHECK_POLICY = "dependencies-deep-health-check-own-node"
ON = ("health-monitoring-agent.ownNodePolicy.enabled=true", "deep-health-check.ownNodePolicy.enabled=true")


@pytest.fixture(scope="module")
def render() -> Renderer:
    return Renderer(helm_path(3))


def _variable(policy: Manifest, name: str) -> str:
    return str(next(v["expression"] for v in policy["spec"]["variables"] if v["name"] == name))


def test_off_where_the_server_is_not_known_to_serve_the_api(render: Renderer) -> None:
    """helm template with no cluster: Helm's built-in API list has no ValidatingAdmissionPolicy."""
    assert of_kind(render(), POLICY) == []


def test_on_by_default_where_the_server_serves_the_api() -> None:
    shown = subprocess.run(
        [str(helm_path(3)), "template", "dependencies", str(CHART), "--namespace", "kube-system",
         "--api-versions", "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
         "--show-only=charts/health-monitoring-agent/templates/own-node-policy.yaml",
         "--show-only=charts/deep-health-check/templates/own-node-policy.yaml"],
        capture_output=True, text=True, check=True).stdout
    names = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(shown) if d)
    assert names == [(POLICY, CHECK_POLICY), (POLICY, AGENT_POLICY),
                     (BINDING, CHECK_POLICY), (BINDING, AGENT_POLICY)]


def test_false_turns_them_off_even_where_served() -> None:
    result = subprocess.run(
        [str(helm_path(3)), "template", "dependencies", str(CHART), "--namespace", "kube-system",
         "--api-versions", "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
         "--set", "health-monitoring-agent.ownNodePolicy.enabled=false",
         "--set", "deep-health-check.ownNodePolicy.enabled=false",
         "--set", "deep-health-check.namespacePolicy.enabled=false"],
        capture_output=True, text=True, check=True).stdout
    assert f"kind: {POLICY}" not in result


def test_each_policy_matches_only_its_agent_and_denies(render: Renderer) -> None:
    objects = render(*ON)
    for name, account in ((AGENT_POLICY, "health-monitoring-agent"),
                          (CHECK_POLICY, "deep-health-check-service-account")):
        user = f"system:serviceaccount:aws-hyperpod:{account}"
        policy = named(objects, POLICY, name)
        assert policy["spec"]["failurePolicy"] == "Fail"
        assert policy["spec"]["matchConditions"] == [
            {"name": "node-agent", "expression": f"request.userInfo.username == '{user}'"}]
        rules = policy["spec"]["matchConstraints"]["resourceRules"]
        assert rules == [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"],
                          "resources": ["nodes", "nodes/status"]}]
        binding = named(objects, BINDING, name)
        assert binding["spec"] == {"policyName": name, "validationActions": ["Deny"]}


def test_the_agent_owns_the_wire_contracts_health_marks(render: Renderer) -> None:
    policy = named(render(*ON), POLICY, AGENT_POLICY)
    assert _variable(policy, "ownedLabels") == (
        "['sagemaker.amazonaws.com/node-health-status', 'sagemaker.amazonaws.com/fault-types', "
        "'sagemaker.amazonaws.com/fault-reasons']")
    assert _variable(policy, "ownedAnnotations") == (
        "['sagemaker.amazonaws.com/fault-details', 'hyperpod-deps/health-agent-state']")
    assert _variable(policy, "ownedTaints") == "['sagemaker.amazonaws.com/node-health-status']"


def test_the_check_pods_own_only_their_result_label(render: Renderer) -> None:
    policy = named(render(*ON), POLICY, CHECK_POLICY)
    assert _variable(policy, "ownedLabels") == "['sagemaker.amazonaws.com/deep-health-check-status']"
    assert _variable(policy, "ownedAnnotations") == "[]"
    assert _variable(policy, "ownedTaints") == "[]"
    conditions = [v["expression"] for v in policy["spec"]["validations"] if "conditions" in v["expression"]]
    assert conditions == ["object.status.?conditions.orValue([]) == oldObject.status.?conditions.orValue([])"]


def test_the_policies_follow_a_moved_namespace(render: Renderer) -> None:
    objects = render(*ON, "deep-health-check.namespace.name=health-checks")
    policy = named(objects, POLICY, CHECK_POLICY)
    assert "system:serviceaccount:health-checks:deep-health-check-service-account" in (
        policy["spec"]["matchConditions"][0]["expression"])


def test_only_the_node_agents_may_run_in_the_check_namespace(render: Renderer) -> None:
    objects = render("deep-health-check.namespacePolicy.enabled=true",
                     "deep-health-check.namespace.name=health-checks")
    policy = named(objects, POLICY, "dependencies-deep-health-check-namespace")
    assert policy["spec"]["matchConstraints"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "health-checks"}}
    assert _variable(policy, "allowedAccounts") == (
        "['deep-health-check-service-account', 'health-monitoring-agent']")
    binding = named(objects, BINDING, "dependencies-deep-health-check-namespace")
    assert binding["spec"]["validationActions"] == ["Deny"]


def test_the_check_pods_patch_only_their_own_pod_and_no_spec(render: Renderer) -> None:
    objects = render(*ON)
    policy = named(objects, POLICY, "dependencies-deep-health-check-own-pod")
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] == ["pods"]
    expressions = [v["expression"] for v in policy["spec"]["validations"]]
    assert "variables.boundPod[0] == object.metadata.name" in expressions[0]
    assert "object.metadata.namespace == 'aws-hyperpod'" in expressions[0]
    assert expressions[1] == "object.spec == oldObject.spec"
