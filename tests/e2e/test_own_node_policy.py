"""The node agents' own-node admission policies, on the real API server.

The chart's ServiceAccounts, RBAC and ValidatingAdmissionPolicies for the health agent and the
deep health check are rendered by helm (as `helm install` renders them against a server that
serves ValidatingAdmissionPolicy) and applied. Each identity then writes nodes through the
project's own client with a TokenRequest token bound to one node, as the kubelet's projected
token is: its own node and its own keys are allowed, anything else is refused, with the reason.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hyperpod_deps.core import wire
from hyperpod_deps.core.nodestate import Condition, NodeUpdate
from hyperpod_deps.kube.client import Kube as Client
from hyperpod_deps.kube.client import ResourceType
from hyperpod_deps.kube.errors import Forbidden, RequestFailed
from hyperpod_deps.kube.nodes import NODE, update_node
from hyperpod_deps.kube.tokens import service_account_token
from hyperpod_deps.localcluster import kubeconfig
from hyperpod_deps.localcluster.cluster import ClusterStatus
from tests.support import policy_support
from tests.support.health_agent_support import create_node
from tests.support.kube_support import Kube
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e

NAMESPACE = "aws-hyperpod"
AGENT = "health-monitoring-agent"
CHECK = "deep-health-check-service-account"
OWN, OTHER = "own-node-a", "own-node-b"
TEMPLATES = [f"charts/{chart}/templates/{name}.yaml"
             for chart in ("health-monitoring-agent", "deep-health-check")
             for name in ("serviceaccount", "rbac", "own-node-policy")]
TEMPLATES.append("charts/deep-health-check/templates/own-pod-policy.yaml")
NOW = "2026-12-06T12:00:00Z"
CHECK_PODS = ("check-own", "check-other")
POD = ResourceType("v1", "Pod", "pods", True)




@dataclass(frozen=True)
class World:
    admin: Client
    kube: Kube
    identity: Callable[[str, str | None], Client]  # (ServiceAccount, bound node) -> its client
    config: Callable[[str, str | None], Path]  # the same identity's kubeconfig
    pod_identity: Callable[[str, str], Client]  # (ServiceAccount, bound pod) -> its client


@pytest.fixture(scope="module")
def world(local_cluster: ClusterStatus, kube: Kube,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    assert local_cluster.kubeconfig is not None
    admin_config = Path(local_cluster.kubeconfig)
    folder = tmp_path_factory.mktemp("own-node")
    rendered = policy_support.rendered(TEMPLATES, "global.platform=generic")
    assert rendered.count("kind: ValidatingAdmissionPolicyBinding") == 3, rendered
    kube.run("create", "namespace", NAMESPACE, check=False)  # another test's install may have left it
    kube.run("apply", "-f", "-", stdin=rendered)
    for node in (OWN, OTHER):
        create_node(kube, node)
    admin = Client.connect(admin_config)
    made: list[Client] = []

    def config(service_account: str, node: str | None) -> Path:
        token = service_account_token(admin, NAMESPACE, service_account, seconds=3600, node=node)
        return kubeconfig.with_token(admin_config, f"system:serviceaccount:{NAMESPACE}:{service_account}",
                                     token, folder / f"{service_account}-{node or 'unbound'}")

    def identity(service_account: str, node: str | None) -> Client:
        client = Client.connect(config(service_account, node))
        made.append(client)
        return client

    def pod_identity(service_account: str, pod: str) -> Client:
        token = service_account_token(admin, NAMESPACE, service_account, seconds=3600, pod=pod)
        client = Client.connect(kubeconfig.with_token(
            admin_config, f"system:serviceaccount:{NAMESPACE}:{service_account}", token,
            folder / f"{service_account}-pod-{pod}"))
        made.append(client)
        return client

    try:
        yield World(admin, kube, identity, config, pod_identity)
    finally:
        for client in made:
            client.close()
        admin.close()
        kube.run("delete", "-f", "-", "--ignore-not-found", stdin=rendered)
        kube.delete("node", [OWN, OTHER])
        kube.delete("pod", CHECK_PODS, NAMESPACE)


def _read_change_replace(client: Client, node: str, change: Callable[[dict[str, Any]], None],
                         subresource: str | None = None) -> None:
    """Read the node, change it, PUT it back; read again on a 409, as the agent's writer does: the
    simulated kubelet's heartbeats move the resourceVersion, and a conflict is checked before
    admission, so it would hide the verdict the test is after."""
    for _ in range(5):
        current = client.get(NODE, node)
        assert current is not None
        change(current)
        try:
            client.replace(current, subresource=subresource)
            return
        except RequestFailed as error:
            if error.status != 409 or isinstance(error, Forbidden):
                raise
    raise AssertionError(f"node {node} kept changing under five writes")


def _label(client: Client, node: str, key: str, value: str) -> None:
    """As the open agent writes: read the node, change it, PUT it back (its RBAC has no patch)."""
    def set_label(current: dict[str, Any]) -> None:
        current["metadata"].setdefault("labels", {})[key] = value
    _read_change_replace(client, node, set_label)


def _patch_label(client: Client, node: str, key: str, value: str) -> None:
    """As the check pods and the AWS agent write: a merge patch (their RBAC has no update)."""
    client.merge_patch(NODE, node, None, {"metadata": {"labels": {key: value}}})


def _spec(client: Client, node: str, **fields: object) -> None:
    _read_change_replace(client, node, lambda current: current["spec"].update(fields))


def _refusal(write: Callable[[], object]) -> str:
    """The API server's message for a write that must be refused."""
    with pytest.raises(Forbidden) as refused:
        write()
    return str(refused.value)


def _policy_enforced(world: World) -> None:
    """A new policy is enforced once the server's admission plugin has loaded it (about a second).
    Asked with a server-side dry run, which goes through admission and writes nothing."""
    agent = Kube((world.kube.kubectl[0], "--kubeconfig", str(world.config(AGENT, OWN))))

    def refused() -> str:
        # Read afresh each time: the simulated kubelet's heartbeats move the node's resourceVersion,
        # and a stale one is answered with a Conflict before admission is asked.
        other = world.kube.get("node", OTHER)
        assert other is not None
        other["metadata"].setdefault("labels", {})[wire.NODE_HEALTH_LABEL] = wire.SCHEDULABLE
        return agent.run("replace", "--dry-run=server", "-f", "-", stdin=json.dumps(other),
                         check=False).stderr
    poll(refused, lambda error: "token is bound to" in error, "the own-node policy to be enforced", 30)


def test_the_agent_writes_its_own_node_through_its_real_write_path(world: World) -> None:
    _policy_enforced(world)
    agent = world.identity(AGENT, OWN)
    fault = Condition("NvidiaGPUUnhealthy", "True", "XidHardwareFailure", "GPU has fallen off the bus")
    update = NodeUpdate(labels={wire.NODE_HEALTH_LABEL: wire.UNSCHEDULABLE_PENDING_REPLACEMENT,
                                wire.FAULT_TYPES_LABEL: "NvidiaGPUUnhealthy"},
                        annotations={wire.FAULT_DETAILS_ANNOTATION: "[]"}, health_taint=True,
                        conditions=(fault,))
    written, _ = update_node(agent, OWN, lambda node: update, lambda: NOW)
    assert written["metadata"]["labels"][wire.NODE_HEALTH_LABEL] == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    node = world.admin.get(NODE, OWN)
    assert node is not None
    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions["NvidiaGPUUnhealthy"] == "True"
    assert any(t["key"] == wire.NODE_HEALTH_LABEL for t in node["spec"]["taints"])


def test_the_agent_cannot_write_another_node(world: World) -> None:
    _policy_enforced(world)
    agent = world.identity(AGENT, OWN)
    message = _refusal(lambda: _label(agent, OTHER, wire.NODE_HEALTH_LABEL, wire.UNSCHEDULABLE))
    assert f"may change only the node its token is bound to ({OWN}), not {OTHER}" in message
    other = world.admin.get(NODE, OTHER)
    assert other is not None and other["metadata"]["labels"][wire.NODE_HEALTH_LABEL] == wire.SCHEDULABLE


def test_a_token_bound_to_no_node_writes_no_node(world: World) -> None:
    _policy_enforced(world)
    unbound = world.identity(AGENT, None)
    message = _refusal(lambda: _label(unbound, OWN, wire.NODE_HEALTH_LABEL, wire.SCHEDULABLE))
    assert "its token names no node" in message


def test_the_agent_cannot_change_a_label_it_does_not_own(world: World) -> None:
    _policy_enforced(world)
    agent = world.identity(AGENT, OWN)
    message = _refusal(lambda: _label(agent, OWN, "node-role.kubernetes.io/control-plane", ""))
    assert "not node-role.kubernetes.io/control-plane" in message
    message = _refusal(lambda: _label(agent, OWN, wire.DEEP_HEALTH_CHECK_LABEL, "Passed"))
    assert f"not {wire.DEEP_HEALTH_CHECK_LABEL}" in message


def test_the_agent_cannot_taint_cordon_or_touch_the_kubelets_conditions(world: World) -> None:
    _policy_enforced(world)
    agent = world.identity(AGENT, OWN)
    taint = {"key": "example.com/drain", "value": "x", "effect": "NoExecute"}
    message = _refusal(lambda: _spec(agent, OWN, taints=[taint]))
    assert "may change only the taints sagemaker.amazonaws.com/node-health-status" in message
    message = _refusal(lambda: _spec(agent, OWN, unschedulable=True))
    assert "may not cordon" in message

    def not_ready(node: dict[str, Any]) -> None:
        node["status"]["conditions"] = [dict(c, status="False") if c["type"] == "Ready" else c
                                        for c in node["status"]["conditions"]]
    message = _refusal(lambda: _read_change_replace(agent, OWN, not_ready, subresource="status"))
    assert "may not change the node conditions Ready" in message


def test_the_check_pod_writes_only_its_result_label_on_its_own_node(world: World) -> None:
    _policy_enforced(world)
    check = world.identity(CHECK, OWN)
    _patch_label(check, OWN, wire.DEEP_HEALTH_CHECK_LABEL, "Passed")
    node = world.admin.get(NODE, OWN)
    assert node is not None and node["metadata"]["labels"][wire.DEEP_HEALTH_CHECK_LABEL] == "Passed"
    message = _refusal(lambda: _patch_label(check, OTHER, wire.DEEP_HEALTH_CHECK_LABEL, "Failed"))
    assert f"bound to ({OWN}), not {OTHER}" in message
    message = _refusal(lambda: _patch_label(check, OWN, wire.NODE_HEALTH_LABEL, wire.UNSCHEDULABLE))
    assert f"may change only the labels {wire.DEEP_HEALTH_CHECK_LABEL} of a node" in message


def _check_pod(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"serviceAccountName": CHECK, "nodeName": OWN,
                     "containers": [{"name": "check", "image": "registry.invalid/check:1"}]}}


def test_a_check_pod_annotates_only_its_own_pod_and_changes_no_spec(world: World) -> None:
    _policy_enforced(world)
    for name in CHECK_PODS:
        world.admin.create(_check_pod(name), NAMESPACE)
    check = world.pod_identity(CHECK, "check-own")

    def annotate(pod: str) -> None:
        check.merge_patch(POD, pod, NAMESPACE, {"metadata": {"annotations": {"check/progress": "50"}}})

    def new_image() -> None:
        """The one container change a pod update may make (a merge patch replaces the whole list)."""
        current = world.admin.get(POD, "check-own", NAMESPACE)
        assert current is not None
        containers = [dict(c, image="registry.invalid/other:1") for c in current["spec"]["containers"]]
        check.merge_patch(POD, "check-own", NAMESPACE, {"spec": {"containers": containers}})

    poll(lambda: _refusal_or_none(lambda: annotate("check-other")), lambda m: "bound to" in (m or ""),
         "the own-pod policy to be enforced", 30)
    annotate("check-own")
    written = world.admin.get(POD, "check-own", NAMESPACE)
    assert written is not None and written["metadata"]["annotations"]["check/progress"] == "50"
    assert f"may change only the pod its token is bound to (check-own), not {NAMESPACE}/check-other" in (
        _refusal(lambda: annotate("check-other")))
    assert "may change only a pod's labels and annotations, not its spec" in _refusal(new_image)


def _refusal_or_none(write: Callable[[], object]) -> str | None:
    try:
        write()
    except Forbidden as error:
        return str(error)
    return None
