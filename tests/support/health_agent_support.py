"""The open health agent as local processes against a local control plane of its own.

kwok nodes run no containers, so each agent runs here as `hyperpod-deps health agent`, one
per simulated node, reading its own kernel log (a file the test appends to) and calling the
API server as the chart's ServiceAccount, with the chart's own RBAC (rendered from the chart,
applied, and a TokenRequest token in a kubeconfig): what the agents manage to do, the chart
lets them do, and nothing is done as admin.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyperpod_deps.core import wire
from hyperpod_deps.health.cursors import CursorStore
from hyperpod_deps.localcluster import kubeconfig
from hyperpod_deps.localcluster.nodespec import InstanceGroup, node_object
from hyperpod_deps.localcluster.processes import control_plane_env, free_port
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART
from tests.support.kube_support import ApiObject, Kube
from tests.support.waiting import poll

NAMESPACE = "hyperpod-health"
# Where the chart puts the agent's ServiceAccount whatever the release namespace (as upstream does).
AGENT_NAMESPACE = "aws-hyperpod"
RELEASE = "health-e2e"
SERVICE_ACCOUNT = "health-monitoring-agent"
AGENT_BINARY = Path(sys.executable).with_name("hyperpod-deps")
XID79 = "NVRM: Xid (PCI:0000:b9:00): 79, pid={pid}, name=python, GPU has fallen off the bus."
XID74 = "NVRM: Xid (PCI:0000:3b:00): 74, pid={pid}, name=python, NVLink: fatal error detected on link 3"
XID13 = "NVRM: Xid (PCI:0000:b9:00): 13, pid={pid}, name=python, Graphics Exception: ESR 0x405840=0x1"
# Timings short enough for a test, the shape of production: quarantines at once, the rest batched.
SETTINGS: dict[str, Any] = {
    "sources": {"journal": {"enabled": False}, "kmsg": {"enabled": False}, "nvml": {"enabled": False},
                "neuron": {"enabled": False}, "efa": {"enabled": False},
                # The test writes each node's kernel log file itself, as the kernel would.
                "logFiles": {"pollIntervalSeconds": 0.05, "trustKernelTag": True}},
    "writer": {"debounceSeconds": 0.3, "reassertIntervalSeconds": 2, "maxBackoffSeconds": 1},
    "dedupeWindowSeconds": 300, "recoveryDelaySeconds": 1,
}


def syslog(message: str) -> str:
    """A kernel line as rsyslog writes it to /var/log/kern.log."""
    return f"Nov 28 12:00:01 node kernel: [ 4242.000001] {message}\n"


def install_agent_rbac(kube: Kube, platform: str = "generic") -> None:
    """The chart's ServiceAccount, ClusterRole and binding for the open agent, as the chart renders them."""
    kube.run("create", "namespace", NAMESPACE)
    # The umbrella chart creates aws-hyperpod (templates/namespaces.yaml); only the agent's
    # templates are applied here.
    kube.run("create", "namespace", AGENT_NAMESPACE)
    show = [f"--show-only=charts/health-monitoring-agent/templates/{template}.yaml"
            for template in ("serviceaccount", "rbac")]
    rendered = subprocess.run(
        [str(helm_path(3)), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
         "--set", f"global.platform={platform}", "--set", "health-monitoring-agent.agent=open", *show],
        capture_output=True, text=True, check=True).stdout
    kube.run("apply", "-f", "-", stdin=rendered)


def agent_kubeconfig(kube: Kube, admin: Path, target: Path) -> Path:
    """A kubeconfig that authenticates as the agent's ServiceAccount (a TokenRequest token)."""
    token = kube.run("create", "token", SERVICE_ACCOUNT, "--namespace", AGENT_NAMESPACE,
                     "--duration", "2h").stdout
    user = f"system:serviceaccount:{AGENT_NAMESPACE}:{SERVICE_ACCOUNT}"
    return kubeconfig.with_token(admin, user, token.strip(), target)


def create_node(kube: Kube, name: str, boot_id: str = "boot-1") -> None:
    """A kwok node (kubelet-like heartbeats) with a boot ID, Ready before the agent starts."""
    node = node_object(name, InstanceGroup("e2e", "ml.p5.48xlarge", 1, "us-west-2a"), "us-west-2")
    node["status"]["nodeInfo"] = {"bootID": boot_id}
    kube.create(node)
    poll(lambda: kube.get("node", name), lambda n: n is not None and _ready(n), f"node {name} Ready", 60)


def _ready(node: ApiObject) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions") or [])


def reboot(kube: Kube, name: str, boot_id: str) -> None:
    """What a kubelet reports after a reboot: a new bootID in the node's status."""
    patch = json.dumps({"status": {"nodeInfo": {"bootID": boot_id}}})
    kube.run("patch", "node", name, "--subresource=status", "--type=merge", "-p", patch)


@dataclass
class Agent:
    """`hyperpod-deps health agent` for one node, with its own log file, state dir and port."""

    node: str
    workdir: Path
    kubeconfig: Path
    platform: str = "generic"
    rules: list[dict[str, Any]] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log.touch()

    @property
    def log(self) -> Path:
        return self.workdir / "kern.log"

    @property
    def output(self) -> Path:
        return self.workdir / "agent.out"

    def start(self) -> Agent:
        self.port = free_port()
        rule_files = []
        for index, document in enumerate(self.rules):
            path = self.workdir / f"rules-{index}.yaml"
            path.write_text(yaml.safe_dump(document))
            rule_files.append(str(path))
        settings = {**SETTINGS, "platform": self.platform, "metricsPort": self.port,
                    "stateDir": str(self.workdir / "state"), "extraRuleFiles": rule_files}
        settings["sources"] = {**SETTINGS["sources"], "logFiles": {
            **SETTINGS["sources"]["logFiles"], "paths": [str(self.log)]}}
        config = self.workdir / "config.yaml"
        config.write_text(yaml.safe_dump(settings))
        started = len(self.records())
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [str(AGENT_BINARY), "health", "agent", "--config", str(config),
                 "--kubeconfig", str(self.kubeconfig)],
                stdout=out, stderr=subprocess.STDOUT, env={**control_plane_env(), "NODE_NAME": self.node})
        poll(lambda: [r for r in self.records()[started:] if r.get("msg") == "health agent started"],
             bool, f"the agent of {self.node} to start", 60)
        return self

    def append(self, text: str | bytes) -> None:
        with self.log.open("ab") as handle:
            handle.write(text.encode() if isinstance(text, str) else text)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the agent and wait; one that does not stop in time is killed and fails the test."""
        process, self.process = self.process, None
        assert process is not None
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            message = f"the agent of {self.node} did not stop within {timeout:.0f}s of {sig.name}"
            raise AssertionError(message) from None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def records(self) -> list[dict[str, Any]]:
        """The agent's JSON log lines (anything else on stdout fails the test)."""
        if not self.output.exists():
            return []
        return [json.loads(line) for line in self.output.read_text().splitlines() if line.strip()]

    def read_position(self) -> int | None:
        """How far into its log the agent has saved that it read (it saves once the node write
        that carries what it read is done), or None while it has saved nothing."""
        cursor = CursorStore(self.workdir / "state", warn=lambda _: None).load_file(str(self.log))
        return None if cursor is None else cursor.offset

    def read_everything(self) -> bool:
        return self.read_position() == self.log.stat().st_size

    def detections(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if wire.DETECTION_EVENT_KEY in r]

    def metrics(self) -> str:
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as answer:
            return str(answer.read().decode())


def settle(seconds: float) -> None:
    """Give the agents time to do something they must not do (a re-assert, a duplicate)."""
    time.sleep(seconds)


def stop_all(agents: list[Agent]) -> None:
    for agent in agents:
        if agent.alive:
            agent.stop()


@dataclass(frozen=True)
class NodeState:
    """What the agent may write on a node, read back as admin."""

    labels: dict[str, str]
    annotations: dict[str, str]
    taints: list[dict[str, str]]
    conditions: dict[str, dict[str, str]]

    @classmethod
    def of(cls, kube: Kube, name: str) -> NodeState:
        node = kube.get("node", name)
        assert node is not None, name
        return cls(node["metadata"].get("labels") or {}, node["metadata"].get("annotations") or {},
                   node["spec"].get("taints") or [],
                   {c["type"]: c for c in node["status"].get("conditions") or []})

    @property
    def health(self) -> str | None:
        return self.labels.get(wire.NODE_HEALTH_LABEL)

    @property
    def tainted(self) -> bool:
        taint = {"key": wire.NODE_HEALTH_LABEL, "value": "Unschedulable", "effect": "NoSchedule"}
        return taint in self.taints

    def details(self) -> list[dict[str, str]]:
        loaded: list[dict[str, str]] = json.loads(self.annotations.get(wire.FAULT_DETAILS_ANNOTATION, "[]"))
        return loaded


def events(kube: Kube, node: str) -> list[ApiObject]:
    """The agent's events about the node (the kubelet's and the controllers' are left out)."""
    listed = kube.items("events.events.k8s.io", namespace="default")
    return [e for e in listed if (e.get("regarding") or {}).get("name") == node
            and e.get("reportingController") == "hyperpod-deps/health-agent"]
