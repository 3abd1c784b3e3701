"""Only the node agents run in the privileged check namespace (issue 12 item 5, docs/security.md).

The deep health check's namespace policy is rendered as `helm install` renders it and applied;
the test then creates pods there as the cluster admin (the policy holds for every requester):
the check pods' and the agent's shapes are admitted, a pod of another ServiceAccount or one a
training job controls (what an operator makes for a job created there) is refused.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import policy_support
from tests.support.kube_support import Kube, KubectlFailed
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e

NAMESPACE = "aws-hyperpod"
TEMPLATES = ["charts/deep-health-check/templates/namespace-policy.yaml"]
PREFIX = "only the node agents run in aws-hyperpod (Pod Security privileged)"


def pod(name: str, account: str | None, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.invalid/check:1"}]}
    if account:
        spec["serviceAccountName"] = account
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if owner:
        metadata["ownerReferences"] = [{"controller": True, "uid": "00000000-0000-0000-0000-000000000001",
                                        **owner}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def refusal(kube: Kube, manifest: dict[str, Any]) -> str:
    with pytest.raises(KubectlFailed) as refused:
        kube.create(manifest)
    return str(refused.value)


@pytest.fixture(scope="module")
def policy(kube: Kube) -> Iterator[None]:
    rendered = policy_support.rendered(TEMPLATES)
    made_namespace = kube.run("create", "namespace", NAMESPACE, check=False).returncode == 0
    for account in ("deep-health-check-service-account", "health-monitoring-agent"):
        kube.run("create", "serviceaccount", account, "--namespace", NAMESPACE, check=False)
    kube.run("apply", "-f", "-", stdin=rendered)
    probe = pod("probe", None)
    # Enforced once the API server has loaded it; a server-side dry run writes nothing.
    poll(lambda: kube.run("create", "--dry-run=server", "-f", "-", stdin=json.dumps(probe),
                          check=False).stderr,
         lambda error: PREFIX in error, "the namespace policy to be enforced", 30)
    try:
        yield
    finally:
        kube.run("delete", "-f", "-", "--ignore-not-found", stdin=rendered)
        kube.run("delete", "pods", "--all", "--namespace", NAMESPACE, "--wait=false")
        # The cluster is shared with later modules, whose installs would refuse to adopt them.
        kube.run("delete", "serviceaccount", "deep-health-check-service-account", "health-monitoring-agent",
                 "--namespace", NAMESPACE, "--ignore-not-found")
        if made_namespace:
            kube.run("delete", "namespace", NAMESPACE, "--ignore-not-found")


def test_the_check_pods_and_the_agent_are_admitted(policy: None, kube: Kube) -> None:
    kube.create(pod("check", "deep-health-check-service-account"))
    assert kube.exists("pod", "check", NAMESPACE)
    # Its owner does not exist, so the garbage collector would remove it at once: a server-side
    # dry run goes through admission and stores nothing.
    agent = pod("agent", "health-monitoring-agent",
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "health-monitoring-agent"})
    admitted = kube.run("create", "--dry-run=server", "-f", "-", stdin=json.dumps(agent), check=False)
    assert admitted.returncode == 0, admitted.stderr


def test_a_pod_of_another_service_account_is_refused(policy: None, kube: Kube) -> None:
    message = refusal(kube, pod("job-worker", None))
    assert (f"{PREFIX}: a pod there must run as deep-health-check-service-account or "
            "health-monitoring-agent, not default") in message


def test_a_pod_a_training_job_controls_is_refused_whatever_its_account(policy: None, kube: Kube) -> None:
    owner = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "name": "escalate"}
    message = refusal(kube, pod("escalate-worker-0", "deep-health-check-service-account", owner))
    assert f"{PREFIX}: a pod there may be controlled by a DaemonSet or nothing, not a PyTorchJob" in message
