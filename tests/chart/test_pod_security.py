"""The Pod Security shape of every pod the chart renders, in every scenario (issue 12).

Each workload either meets the restricted Pod Security Standard, or is a node agent listed
below with exactly the deviations it needs and the reason; a new deviation, or a new workload
that is not restricted, fails here. The namespaces those agents run in are the ones labelled
for them (aws-hyperpod: privileged) or kube-system. docs/security.md and
tests/chart/checkov-skips.yaml say the same per component.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain.helm import helm_path
from tests.chart.conftest import render_scenario
from tests.support.charts import CHART, Renderer

WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "Pod", "ReplicaSet")
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
ROOT = "runs as root"
DEVICE_PLUGINS = "/var/lib/kubelet/device-plugins"


def kmsg(container: str) -> set[str]:
    """The open agent with sources.kmsg on: the device cgroup admits /dev/kmsg only to a
    privileged container running as root."""
    return {f"{container}: {d}" for d in ("privileged", ROOT, "may escalate privileges",
                                          "keeps capabilities")}


# name -> (namespace, the deviations it may have, why)
NODE_AGENTS: dict[str, tuple[str, frozenset[str], str]] = {
    "dependencies-nvidia-device-plugin": (
        "kube-system", frozenset({f"hostPath {DEVICE_PLUGINS}", f"nvidia-device-plugin: {ROOT}"}),
        "registers with the kubelet through its root-owned device-plugin socket directory"),
    "neuron-device-plugin-daemonset": (
        "kube-system",
        frozenset({f"hostPath {DEVICE_PLUGINS}", "hostPath /run/infa-map.json",
                   f"neuron-device-plugin: {ROOT}"}),
        "the kubelet socket, and the one host file naming the Neuron topology (read-only)"),
    "dependencies-aws-efa-k8s-device-plugin": (
        "kube-system",
        frozenset({"hostNetwork", f"hostPath {DEVICE_PLUGINS}", "hostPath /dev/infiniband",
                   "hostPath /opt/aws/neuron", f"aws-efa-k8s-device-plugin: {ROOT}"}),
        "finds the EFA devices in the host's network namespace and /dev/infiniband"),
    "health-monitoring-agent": (
        "aws-hyperpod",
        frozenset({"hostPath /var/log", "hostPath /dev/kmsg", "hostPath /etc/localtime",  # AWS's agent
                   "hostPath /var/lib/hyperpod-deps/health-agent", "hostPath /sys",  # ours
                   # the init container hands the state dir on the host to the agent's user
                   f"state-owner: {ROOT}", "state-owner: adds CHOWN",
                   *kmsg("health-monitoring-agent")}),
        "reads the host's kernel log, journal and device state; keeps its read positions on the host"),
    "health-monitoring-agent-non-nvidia": (
        "aws-hyperpod",
        frozenset({"hostPath /var/log", "hostPath /dev/kmsg", "hostPath /etc/localtime",
                   "hostPath /var/lib/hyperpod-deps/health-agent", "hostPath /sys", "hostPath /dev",
                   f"state-owner: {ROOT}", "state-owner: adds CHOWN",
                   *kmsg("health-monitoring-agent-non-nvidia")}),
        "as above, and the Neuron devices under /dev"),
}


def pod_spec(workload: Manifest) -> dict[str, Any]:
    if workload["kind"] == "Pod":
        return dict(workload["spec"])
    if workload["kind"] == "CronJob":
        return dict(workload["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(workload["spec"]["template"]["spec"])


def deviations(spec: dict[str, Any]) -> set[str]:
    """What keeps the pod from the restricted standard, one phrase each."""
    pod = spec.get("securityContext") or {}
    found = {key for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)}
    found |= {f"hostPath {v['hostPath']['path']}" for v in spec.get("volumes") or [] if "hostPath" in v}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        own = container.get("securityContext") or {}
        found |= {f"{container['name']}: {d}" for d in _container_deviations(pod, own)}
    return found


def _container_deviations(pod: dict[str, Any], own: dict[str, Any]) -> Iterator[str]:
    if own.get("privileged"):
        yield "privileged"
    if own.get("allowPrivilegeEscalation") is not False:
        yield "may escalate privileges"
    capabilities = own.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        yield "keeps capabilities"
    for added in sorted(set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}):
        yield f"adds {added}"
    non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True
    if not non_root or own.get("runAsUser", pod.get("runAsUser")) == 0:
        yield ROOT
    seccomp = (own.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        yield "no seccomp profile"


def workloads(objects: list[Manifest]) -> list[Manifest]:
    return [o for o in objects if o.get("kind") in WORKLOADS]


def _check(objects: list[Manifest]) -> list[str]:
    wrong = []
    for workload in workloads(objects):
        name, namespace = workload["metadata"]["name"], workload["metadata"].get("namespace")
        found = deviations(pod_spec(workload))
        if name not in NODE_AGENTS:
            if found:
                wrong.append(f"{workload['kind']} {namespace}/{name} is not restricted: {sorted(found)}")
            continue
        where, allowed, _why = NODE_AGENTS[name]
        if found - allowed:
            wrong.append(f"{workload['kind']} {namespace}/{name}: unexpected {sorted(found - allowed)}")
        if found and namespace != where:
            wrong.append(f"{workload['kind']} {name} runs in {namespace}, not {where}")
    return wrong


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_pod_is_restricted_or_a_listed_node_agent(scenario: Path) -> None:
    assert _check(list(render_scenario(scenario))) == []


def test_the_open_agent_reading_kmsg_is_the_one_privileged_pod() -> None:
    objects = Renderer(helm_path(3))("global.platform=generic",
                                     "health-monitoring-agent.openAgent.config.sources.kmsg.enabled=true")
    assert _check(objects) == []
    agent = next(w for w in workloads(objects) if w["metadata"]["name"] == "health-monitoring-agent")
    assert deviations(pod_spec(agent)) >= kmsg("health-monitoring-agent")


def test_the_check_detects_what_it_must() -> None:
    """A pod with each deviation is reported: the checks above can fail."""
    spec = {"hostPID": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [{"name": "c", "securityContext": {"privileged": True,
                                                             "capabilities": {"add": ["SYS_ADMIN"]}}}]}
    assert deviations(spec) == {"hostPID", "hostPath /", "c: privileged", "c: may escalate privileges",
                                "c: keeps capabilities", "c: adds SYS_ADMIN", f"c: {ROOT}",
                                "c: no seccomp profile"}
    rogue = {"kind": "Deployment", "metadata": {"name": "x", "namespace": "default"},
             "spec": {"template": {"spec": spec}}}
    assert _check([rogue])
