"""The auto-restart controller on the local cluster, for e2e tests: installed by the chart, run
as local processes (kwok runs no containers) with the chart's ServiceAccount token, and the
node faults that set it off.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyperpod_deps.core import wire
from hyperpod_deps.localcluster import kubeconfig
from hyperpod_deps.localcluster.processes import free_port
from tests.support.helm_support import HelmCli
from tests.support.kube_support import ApiObject, Kube
from tests.support.kubeflow_support import mpijob, pytorchjob
from tests.support.waiting import poll

RELEASE = "autorestart"
NAMESPACE = "autorestart-system"
FULLNAME = f"{RELEASE}-job-auto-restart"
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:{FULLNAME}"
# Only job-auto-restart from the umbrella chart, on the generic platform; the operators run as
# local processes (the kubeflow fixtures). Short leader timings keep the failover test short.
CHART_VALUES = (
    "global.platform=generic",
    "health-monitoring-agent.enabled=false",
    "deep-health-check.enabled=false",
    "trainingOperators.enabled=false",
    "mpi-operator.enabled=false",
    "hyperpod-patching.enabled=false",
    "nvidia-device-plugin.devicePlugin.enabled=false",
    "neuron-device-plugin.devicePlugin.enabled=false",
    "aws-efa-k8s-device-plugin.devicePlugin.enabled=false",
    "job-auto-restart.controller.leaderElection.leaseDurationSeconds=6",
    "job-auto-restart.controller.leaderElection.renewDeadlineSeconds=4",
    "job-auto-restart.controller.leaderElection.retryPeriodSeconds=1",
    "job-auto-restart.controller.logLevel=debug",
    # No blast-radius limit: these tests restart jobs on several nodes within minutes. The limit
    # has its own tests (test_auto_restart_limits.py).
    "job-auto-restart.controller.blastRadius.maxJobPercent=100",
    "job-auto-restart.controller.blastRadius.maxNodePercent=100",
)
FAULTY = wire.UNSCHEDULABLE_PENDING_REPLACEMENT
TAINT = f"{wire.NODE_HEALTH_LABEL}={wire.NODE_HEALTH_TAINT_VALUE}:{wire.NODE_HEALTH_TAINT_EFFECT}"
SCHEDULABLE_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": wire.NODE_HEALTH_LABEL, "operator": "In", "values": [wire.SCHEDULABLE]}
                    ]
                }
            ]
        }
    }
}
COUNT = "hyperpod-deps.io/auto-restart-count"
STATUS = "hyperpod-deps.io/auto-restart-status"
RECORD = "hyperpod-deps.io/auto-restart-record"
# A node label no node has: a pod that selects it stays Pending.
HOLD_LABEL = "e2e.hyperpod-deps/hold"


# --- Faults ---------------------------------------------------------------------------------


def inject_node_fault(kube: Kube, node: str, value: str = FAULTY) -> None:
    """What the health agent does on a fatal fault, done by the test: the health label and the
    Unschedulable taint, together. This is the hook to replace with the real thing once the
    health agent runs here: write an Xid 79 line into the agent's kernel-log source for `node`
    and wait for the label, instead of setting it."""
    kube.run("label", "node", node, f"{wire.NODE_HEALTH_LABEL}={value}", "--overwrite")
    kube.run("taint", "node", node, TAINT, "--overwrite")


@contextmanager
def node_faults(kube: Kube) -> Iterator[Callable[[str], None]]:
    """Marks nodes faulty; every node it marked is healthy again afterwards."""
    marked: list[str] = []

    def inject(node: str) -> None:
        marked.append(node)
        inject_node_fault(kube, node)

    try:
        yield inject
    finally:
        for node in marked:
            heal_node(kube, node)


def heal_node(kube: Kube, node: str) -> None:
    kube.run("label", "node", node, f"{wire.NODE_HEALTH_LABEL}={wire.SCHEDULABLE}", "--overwrite")
    kube.run("taint", "node", node, f"{wire.NODE_HEALTH_LABEL}:{wire.NODE_HEALTH_TAINT_EFFECT}-", check=False)


# --- Jobs -----------------------------------------------------------------------------------


def opted_in(job: ApiObject, retries: str | None = "2", enable: str = "true") -> ApiObject:
    """The job with the HyperPod annotations, every replica OnFailure and on Schedulable nodes."""
    annotations = {wire.AUTO_RESUME_ANNOTATION: enable}
    if retries is not None:
        annotations[wire.MAX_RETRY_ANNOTATION] = retries
    job["metadata"]["annotations"] = annotations
    field = "pytorchReplicaSpecs" if job["kind"] == "PyTorchJob" else "mpiReplicaSpecs"
    for spec in job["spec"][field].values():
        spec["restartPolicy"] = "OnFailure"
        spec["template"]["spec"]["affinity"] = SCHEDULABLE_AFFINITY
    return job


def resumable_pytorchjob(name: str, namespace: str, retries: str = "2") -> ApiObject:
    return opted_in(pytorchjob(name, namespace), retries)


def resumable_mpijob(name: str, namespace: str, retries: str = "2") -> ApiObject:
    return opted_in(mpijob(name, namespace), retries)


def pinned(job: ApiObject, node: str) -> ApiObject:
    """Every replica on one node (a job that must share the faulty node with another)."""
    field = "pytorchReplicaSpecs" if job["kind"] == "PyTorchJob" else "mpiReplicaSpecs"
    for spec in job["spec"][field].values():
        spec["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    return job


def pods_of(kube: Kube, job: str, namespace: str) -> list[ApiObject]:
    return kube.items("pods", namespace, f"training.kubeflow.org/job-name={job}")


def running(pods: list[ApiObject], count: int) -> bool:
    return (
        len(pods) == count
        and all(p.get("status", {}).get("phase") == "Running" for p in pods)
        and not any(p["metadata"].get("deletionTimestamp") for p in pods)
    )


def wait_running(kube: Kube, job: str, namespace: str, count: int, timeout: float = 120) -> list[ApiObject]:
    return poll(
        lambda: pods_of(kube, job, namespace),
        lambda pods: running(pods, count),
        f"{namespace}/{job}: {count} pods Running",
        timeout,
    )


def uids(pods: list[ApiObject]) -> set[str]:
    return {str(p["metadata"]["uid"]) for p in pods}


def nodes_of(pods: list[ApiObject]) -> set[str]:
    return {str(p["spec"].get("nodeName")) for p in pods}


def job_annotations(kube: Kube, resource: str, name: str, namespace: str) -> dict[str, str]:
    job = kube.get(resource, name, namespace)
    assert job is not None, f"{resource} {namespace}/{name} is gone"
    found: dict[str, str] = job["metadata"].get("annotations") or {}
    return found


def job_events(kube: Kube, name: str, namespace: str) -> list[ApiObject]:
    return [
        e
        for e in kube.items("events", namespace)
        if e["involvedObject"].get("name") == name
        and e["involvedObject"].get("kind") in ("PyTorchJob", "MPIJob")
    ]


def reasons(events: list[ApiObject]) -> list[str]:
    return sorted(str(e.get("reason")) for e in events)


# --- The controller as a local process --------------------------------------------------------


def token_kubeconfig(kube: Kube, admin_kubeconfig: Path, target: Path) -> Path:
    """A kubeconfig that authenticates as the chart's ServiceAccount (a TokenRequest token), so the
    controller has exactly the chart's RBAC."""
    token = kube.run("create", "token", FULLNAME, "--namespace", NAMESPACE, "--duration", "3h").stdout.strip()
    user = f"system:serviceaccount:{NAMESPACE}:{FULLNAME}"
    return kubeconfig.with_token(admin_kubeconfig, user, token, target)


def chart_settings(kube: Kube) -> dict[str, Any]:
    """The settings file the chart's ConfigMap holds, as the Deployment mounts it."""
    config = kube.get("configmap", FULLNAME, NAMESPACE)
    assert config is not None, "the chart's ConfigMap is missing"
    loaded: dict[str, Any] = yaml.safe_load(config["data"]["settings.yaml"])
    return loaded


@dataclass
class Controller:
    identity: str
    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, the Lease is not handed back."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def healthz(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=5) as response:
            return int(response.status)


@dataclass
class Controllers:
    """Controller processes started by a test module; each is stopped at the end."""

    kubeconfig: Path
    settings: Mapping[str, Any]
    folder: Path
    started: list[Controller] = field(default_factory=list)

    def start(self, identity: str) -> Controller:
        port = free_port()
        config = self.folder / f"{identity}-settings.yaml"
        config.write_text(
            yaml.safe_dump({**self.settings, "metrics": {"port": port, "bindAddress": "127.0.0.1"}})
        )
        log = self.folder / f"{identity}.log"
        binary = Path(sys.executable).with_name("hyperpod-deps")
        env = {**os.environ, "POD_NAME": identity, "POD_NAMESPACE": NAMESPACE}
        env.pop("KUBECONFIG", None)
        with log.open("ab") as output:
            process = subprocess.Popen(
                [
                    str(binary),
                    "jobs",
                    "controller",
                    "--config",
                    str(config),
                    "--kubeconfig",
                    str(self.kubeconfig),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        controller = Controller(identity, process, log, port)
        self.started.append(controller)
        return controller

    def stop_all(self) -> None:
        for controller in self.started:
            controller.stop()

    def alive(self) -> list[Controller]:
        return [c for c in self.started if c.process.poll() is None]


@contextmanager
def chart_installed(helm: HelmCli, kube: Kube, *extra_values: str) -> Iterator[None]:
    """job-auto-restart from the umbrella chart (CHART_VALUES, then `extra_values`), removed after."""
    values = [arg for value in (*CHART_VALUES, *extra_values) for arg in ("--set", value)]
    helm.run("install", RELEASE, "helm_chart/HyperPodHelmChart", "--namespace", NAMESPACE,
             "--create-namespace", *values)
    try:
        yield
    finally:
        helm.uninstall(RELEASE, NAMESPACE)
        kube.delete("namespace", [NAMESPACE])


@contextmanager
def controllers_running(kube: Kube, admin_kubeconfig: Path, folder: Path) -> Iterator[Controllers]:
    """Two replicas with the chart's settings and ServiceAccount, as its Deployment runs them; one leads."""
    kubeconfig = token_kubeconfig(kube, admin_kubeconfig, folder / "kubeconfig")
    manager = Controllers(kubeconfig, chart_settings(kube), folder)
    started = [manager.start("replica-a"), manager.start("replica-b")]
    try:
        wait_leader(kube, started)
        yield manager
    finally:
        manager.stop_all()


def lease_holder(kube: Kube) -> str:
    lease = kube.get("lease", FULLNAME, NAMESPACE)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def wait_leader(kube: Kube, among: list[Controller], timeout: float = 60) -> Controller:
    names = {c.identity: c for c in among}
    holder = poll(
        lambda: lease_holder(kube), lambda h: h in names, f"one of {sorted(names)} to hold the Lease", timeout
    )
    return names[holder]
