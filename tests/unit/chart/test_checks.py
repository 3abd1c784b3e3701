"""The semantic lint checks flag what they should, on hand-made manifests."""
from __future__ import annotations

from typing import Any

import pytest

from hyperpod_deps.chart.checks import PRIVILEGED_REASON, run_checks
from hyperpod_deps.core.kubernetes_facts import RECOMMENDED_LABELS
from hyperpod_deps.core.wire import NODE_HEALTH_TOLERATION

LABELS = {label: "x" for label in RECOMMENDED_LABELS}


def role(kind: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "r", "labels": LABELS}, "rules": rules}


def good_container() -> dict[str, Any]:
    return {
        "name": "c",
        "image": "i",
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def daemonset(**pod: Any) -> dict[str, Any]:
    spec = {"containers": [good_container()], **pod}
    return {"kind": "DaemonSet", "metadata": {"name": "d", "labels": LABELS},
            "spec": {"template": {"spec": spec}}}


def messages(obj: dict[str, Any]) -> list[str]:
    return [finding.message for finding in run_checks([obj])]


def test_a_clean_role_passes() -> None:
    assert messages(role("Role", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])) == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["describe"]},
            "'describe' is not a Kubernetes verb",
        ),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, "wildcard verb"),
        ({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}, "wildcard in apiGroups"),
        ({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, "wildcard in resources"),
        ({"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}, "nodes is cluster-scoped"),
        ({"apiGroups": ["kueue.x-k8s.io"], "resources": ["clusterqueues/status"], "verbs": ["get"]},
         "clusterqueues/status is cluster-scoped"),
    ],
)
def test_bad_role_rules_are_flagged(rule: dict[str, Any], expected: str) -> None:
    assert any(expected in m for m in messages(role("Role", [rule])))


def test_a_cluster_role_may_grant_cluster_scoped_resources() -> None:
    rule = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}
    assert messages(role("ClusterRole", [rule])) == []


def test_missing_labels_are_named() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app.kubernetes.io/name": "c"}}}
    (message,) = messages(obj)
    assert "app.kubernetes.io/instance" in message and "helm.sh/chart" in message


def test_a_daemonset_must_survive_quarantine() -> None:
    found = messages(daemonset())
    assert any("node-health taint" in m for m in found)
    assert any("system-node-critical" in m for m in found)
    assert messages(daemonset(tolerations=[NODE_HEALTH_TOLERATION],
                              priorityClassName="system-node-critical")) == []


def test_a_toleration_with_the_wrong_value_does_not_count() -> None:
    wrong = dict(NODE_HEALTH_TOLERATION, value="UnschedulablePendingReboot")
    found = messages(daemonset(tolerations=[wrong], priorityClassName="system-node-critical"))
    assert any("node-health taint" in m for m in found)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"resources": {}}, "cpu and memory requests are required"),
        ({"securityContext": {"capabilities": {"drop": ["ALL"]}}}, "allowPrivilegeEscalation"),
        ({"securityContext": {"allowPrivilegeEscalation": False}}, "drop ALL"),
        ({"securityContext": {"privileged": True, "allowPrivilegeEscalation": False,
                              "capabilities": {"drop": ["ALL"]}}}, "privileged"),
    ],
)
def test_container_rules(change: dict[str, Any], expected: str) -> None:
    container = {**good_container(), **change}
    obj = daemonset(tolerations=[NODE_HEALTH_TOLERATION], priorityClassName="system-node-critical",
                    initContainers=[container])
    assert any(expected in m for m in messages(obj))


def test_a_privileged_container_passes_only_with_its_reason_on_the_pod_template() -> None:
    privileged = {**good_container(), "securityContext": {"privileged": True}}
    obj = daemonset(tolerations=[NODE_HEALTH_TOLERATION], priorityClassName="system-node-critical",
                    containers=[privileged])
    assert "container c: privileged" in messages(obj)
    obj["spec"]["template"]["metadata"] = {"annotations": {PRIVILEGED_REASON: " "}}
    assert "container c: privileged" in messages(obj)
    obj["spec"]["template"]["metadata"] = {"annotations": {PRIVILEGED_REASON: "reads /dev/kmsg"}}
    assert messages(obj) == []


@pytest.mark.parametrize("toleration", [
    {"operator": "Exists"},
    {"operator": "Exists", "effect": "NoSchedule"},
    {"key": "sagemaker.amazonaws.com/node-health-status", "operator": "Exists"},
])
def test_a_catch_all_toleration_counts_as_kubernetes_matches_it(toleration: dict[str, str]) -> None:
    """Upstream's health agent tolerates every NoSchedule taint with one catch-all entry."""
    assert messages(daemonset(tolerations=[toleration], priorityClassName="system-node-critical")) == []


@pytest.mark.parametrize("toleration", [
    {"operator": "Exists", "effect": "NoExecute"},
    {"key": "nvidia.com/gpu", "operator": "Exists"},
])
def test_a_toleration_for_another_taint_does_not_count(toleration: dict[str, str]) -> None:
    found = messages(daemonset(tolerations=[toleration], priorityClassName="system-node-critical"))
    assert any("node-health taint" in m for m in found)
