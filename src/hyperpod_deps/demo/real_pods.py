"""The demo's second act told by the chart's own pods on a real node (`cluster up --real-nodes`).

The chart runs its open health agent, job auto-restart controller and training operator as real
pods on the real node. A PyTorchJob that opted in to auto-resume runs its master, a real container,
on the real node and its worker on a simulated node (the training operator gives workers an init
container that waits for the master's DNS name, which this cluster does not serve: kwok's pods
skip it). An Xid 79 kernel record is written to
the host's journal, which the agent pod reads through its hostPath: the agent pod quarantines
its node, the controller pod deletes the master, the training operator pod makes a new one, and
the scheduler puts it on a healthy node. Nothing is started outside the cluster.
"""
from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

from hyperpod_deps.core import wire
from hyperpod_deps.core.manifest import Manifest, is_ready
from hyperpod_deps.core.nodestate import has_health_taint
from hyperpod_deps.demo import host_journal
from hyperpod_deps.demo.story import (
    AGENT,
    CONTROLLER,
    DEMO_NAMESPACE,
    JOB_NAME,
    RESTART_COUNT_ANNOTATION,
    XID_79,
    Progress,
    ResumeStory,
    StoryFailed,
    job_events,
    quarantined,
    replace_quarantined_nodes,
    running_places,
    submit_job,
    wait,
)
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.leases import read_lease
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.localcluster.realnode import REAL_NODE_LABEL
from hyperpod_deps.toolchain.agents_image import image_name
from hyperpod_deps.toolchain.helm import kubectl_path

POD = ResourceType("v1", "Pod", "pods", True)
NODE = ResourceType("v1", "Node", "nodes", False)
PYTORCH_JOB = ResourceType("kubeflow.org/v1", "PyTorchJob", "pytorchjobs", True)
AGENT_NAMESPACE = "aws-hyperpod"
CONTROLLER_NAMESPACE = "kube-system"


def journal_folder(cluster: str) -> str:
    """The demo's own machine-id folder under /var/log/journal, one per cluster."""
    return hashlib.sha256(f"hyperpod-deps demo {cluster}".encode()).hexdigest()[:32]


def run_story(kube: Kube, kubeconfig: Path, layout: Layout, real_node: str, timeout_seconds: float,
              progress: Progress) -> ResumeStory:
    for replaced in replace_quarantined_nodes(kube, layout.name, timeout_seconds):
        progress(f"{replaced} was quarantined by an earlier run: replaced by a healthy node of that name")
    _require_healthy(kube, real_node)
    agent = _pod_on(kube, AGENT_NAMESPACE, "app.kubernetes.io/name=health-monitoring-agent", real_node,
                    timeout_seconds)
    progress(f"the chart's pods on the real node {real_node}: health agent {agent}, the controller's two "
             "replicas, the training and MPI operators (no stand-in, no local process)")
    progress(f"submitting PyTorchJob {DEMO_NAMESPACE}/{JOB_NAME}: master a real container on {real_node}, "
             "worker on a simulated node (auto-resume on, at most 2 restarts)")
    submit_job(kube, timeout_seconds, demo_job())
    before = wait(lambda: running_places(kube, set()), "the job's pods to run", timeout_seconds)
    master = next(place for place in before if place.role == "master")
    if master.node != real_node:
        raise StoryFailed(f"the master was scheduled on {master.node}, not on the real node {real_node}")
    folder = host_journal.JOURNAL / journal_folder(layout.name)
    progress(f"writing an Xid 79 kernel record (GPU fallen off the bus) to the host's journal ({folder}), "
             f"which the agent pod on {real_node} reads")
    started = time.monotonic()
    host_journal.append_kernel_line(folder, XID_79)
    try:
        node = wait(lambda: quarantined(kube, real_node), f"{real_node} to be quarantined", timeout_seconds)
        seconds = {"quarantined": time.monotonic() - started}
        gone = {place.uid for place in before}
        after = wait(lambda: running_places(kube, gone), "the job to run again", timeout_seconds)
        seconds["back"] = time.monotonic() - started
    finally:
        host_journal.remove(folder)
    job = kube.get(PYTORCH_JOB, JOB_NAME, DEMO_NAMESPACE)
    if job is None:
        raise StoryFailed(f"PyTorchJob {DEMO_NAMESPACE}/{JOB_NAME} disappeared")
    annotations = job["metadata"].get("annotations") or {}
    leader = _leader(kube)
    said = {AGENT: _log_line(kubeconfig, AGENT_NAMESPACE, agent, '"msg":"node written"'),
            CONTROLLER: _log_line(kubeconfig, CONTROLLER_NAMESPACE, leader, '"msg":"restarting job"')}
    return ResumeStory(real_node, str(node["metadata"]["labels"].get(wire.NODE_HEALTH_LABEL)),
                       has_health_taint(node), before, after,
                       str(annotations.get(RESTART_COUNT_ANNOTATION, "0")), job_events(kube, job), seconds,
                       {AGENT: f"kubectl logs -n {AGENT_NAMESPACE} {agent}",
                        CONTROLLER: f"kubectl logs -n {CONTROLLER_NAMESPACE} {leader}"},
                       log_heading="Logs of the chart's pods:", log_lines=said)


def demo_job() -> Manifest:
    """Master and worker on nodes the health agents call Schedulable; the master, a real
    container (the agents image, sleeping), prefers the real node and tolerates its taint."""
    healthy = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": wire.NODE_HEALTH_LABEL, "operator": "In", "values": [wire.SCHEDULABLE]}]}]}

    def replica(real: bool) -> Manifest:
        affinity: Manifest = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": healthy}}
        spec: Manifest = {"containers": [{"name": "pytorch", "image": image_name(),
                                          # sh as PID 1 ignores SIGTERM unless told: the trap
                                          # stops a deleted pod at once, as a trainer killed by
                                          # SIGTERM (143; an exit 0 would mark the job done)
                                          "command": ["sh", "-c", "trap 'exit 143' TERM; "
                                                      "while :; do sleep 1; done"],
                                          "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
        if real:
            affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = [{
                "weight": 100, "preference": {"matchExpressions": [
                    {"key": REAL_NODE_LABEL, "operator": "In", "values": ["true"]}]}}]
            spec["tolerations"] = [{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}]
        spec["affinity"] = affinity
        return {"replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": spec}}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": JOB_NAME, "namespace": DEMO_NAMESPACE, "annotations": {
                wire.AUTO_RESUME_ANNOTATION: "true", wire.MAX_RETRY_ANNOTATION: "2"}},
            "spec": {"pytorchReplicaSpecs": {"Master": replica(True), "Worker": replica(False)}}}


def _require_healthy(kube: Kube, real_node: str) -> None:
    node = kube.get(NODE, real_node)
    health = ((node or {}).get("metadata", {}).get("labels") or {}).get(wire.NODE_HEALTH_LABEL)
    if node is None or wire.is_unschedulable(health):
        raise StoryFailed(f"the real node {real_node} is quarantined (an earlier run broke its GPU): "
                          "`hyperpod-deps cluster down`, then run the demo again for a fresh one")


def _pod_on(kube: Kube, namespace: str, selector: str, node: str, timeout_seconds: float) -> str:
    def ready() -> str | None:
        for pod in kube.snapshot(POD, namespace, label_selector=selector).items:
            if pod["spec"].get("nodeName") == node and is_ready(pod):
                return str(pod["metadata"]["name"])
        return None
    return wait(ready, f"a Ready pod of {selector} on {node}", timeout_seconds)


def _log_line(kubeconfig: Path, namespace: str, pod: str, marker: str) -> str:
    """The last line of the pod's log holding `marker`, as `kubectl logs` shows it."""
    shown = subprocess.run([str(kubectl_path()), "--kubeconfig", str(kubeconfig), "logs", "--namespace",
                            namespace, pod], capture_output=True, text=True, check=False, timeout=30)
    lines = [line for line in shown.stdout.splitlines() if marker in line]
    return lines[-1] if lines else f"(no line with {marker} in its log)"


def _leader(kube: Kube) -> str:
    lease = read_lease(kube, CONTROLLER_NAMESPACE, f"dependencies-{CONTROLLER}")
    return lease.holder if lease is not None and lease.holder else f"deploy/dependencies-{CONTROLLER}"
