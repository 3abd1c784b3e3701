"""The demo's second act: a training job that comes back on a healthy node after a GPU fault.

On the local cluster kwok runs no containers, so the chart's job auto-restart controller and its
open health agents are started here as stand-ins (`localcluster/standins.py`): the same commands
their pods run, as the chart's ServiceAccounts, with the chart's own settings. The real Kubeflow
training operator runs as a local process. Then a PyTorchJob that opted in to auto-resume is
submitted, an Xid 79 line is written to the kernel log of the node running one of its pods, and
the story is told from what the API server shows: the node quarantined by the agent, the job
restarted by the controller on a healthy node.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hyperpod_deps.chart.render import DEFAULT_NAMESPACE, DEFAULT_RELEASE
from hyperpod_deps.cli.table import table
from hyperpod_deps.core import wire
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.nodestate import has_health_taint
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed
from hyperpod_deps.kube.leases import read_lease
from hyperpod_deps.kube.tokens import service_account_token
from hyperpod_deps.localcluster import kubeconfig, operators, processes, standins
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.localcluster.nodespec import default_spec, node_objects

DEMO_NAMESPACE = "hyperpod-demo"
JOB_NAME = "demo-resume"
OPERATOR_NAMESPACE = "training-operator-local"
CONTROLLER = "job-auto-restart"
AGENT = "health-monitoring-agent"
RESTART_COUNT_ANNOTATION = "hyperpod-deps.io/auto-restart-count"
XID_79 = "NVRM: Xid (PCI:0000:b9:00): 79, pid=4242, name=python, GPU has fallen off the bus."
POLL_SECONDS = 0.5

T = TypeVar("T")

Progress = Callable[[str], None]


class StoryFailed(RuntimeError):
    """Something the story waits for did not happen in time; the message says what."""


@dataclass(frozen=True)
class PodPlace:
    role: str
    pod: str
    node: str
    uid: str


@dataclass(frozen=True)
class ResumeStory:
    faulty_node: str
    health_status: str
    tainted: bool
    before: list[PodPlace]
    after: list[PodPlace]
    restarts: str
    events: list[str]
    seconds: dict[str, float]  # quarantined, back (both after the fault line was written)
    logs: dict[str, str]  # component -> where its log is (a file, or the kubectl command)
    log_heading: str = "Logs of the stand-ins:"
    log_lines: dict[str, str] = field(default_factory=dict)  # component -> the line that shows its act


def run_story(admin_kubeconfig: Path, layout: Layout, timeout_seconds: float,
              progress: Progress) -> ResumeStory:
    with Kube.connect(admin_kubeconfig) as kube:
        for replaced in replace_quarantined_nodes(kube, layout.name, timeout_seconds):
            progress(f"{replaced} was quarantined by an earlier run: replaced by a healthy node of that name")
        progress("the real training operator (v1.8.1, built from its Go module) as a local process")
        operators.stop(operators.TRAINING_OPERATOR, layout.root)
        operators.start_training_operator(admin_kubeconfig, layout.root, namespace=OPERATOR_NAMESPACE)
        progress("stand-ins for the chart's pods (kwok runs no containers): the auto-restart controller "
                 "and one open health agent per accelerated node, each as its ServiceAccount")
        standins.stop_all(layout)
        start_controller(kube, admin_kubeconfig, layout, timeout_seconds)
        agent_logs = start_agents(kube, admin_kubeconfig, layout, timeout_seconds)
        progress(f"submitting PyTorchJob {DEMO_NAMESPACE}/{JOB_NAME} (auto-resume on, at most 2 restarts)")
        submit_job(kube, timeout_seconds)
        before = wait(lambda: running_places(kube, set()), "the job's pods to run", timeout_seconds)
        faulty = next(place.node for place in before if place.role == "worker")
        progress(f"writing an Xid 79 line (GPU fallen off the bus) to the kernel log of {faulty}")
        started = time.monotonic()
        inject_xid_79(agent_logs[faulty], faulty)
        node = wait(lambda: quarantined(kube, faulty), f"{faulty} to be quarantined", timeout_seconds)
        seconds = {"quarantined": time.monotonic() - started}
        gone = {place.uid for place in before}  # the operator reuses the pods' names
        after = wait(lambda: running_places(kube, gone), "the job to run again", timeout_seconds)
        seconds["back"] = time.monotonic() - started
        job = _job(kube)
        annotations = (job.get("metadata") or {}).get("annotations") or {}
        return ResumeStory(faulty, str(node["metadata"]["labels"].get(wire.NODE_HEALTH_LABEL)),
                           has_health_taint(node), before, after,
                           str(annotations.get(RESTART_COUNT_ANNOTATION, "0")),
                           job_events(kube, job), seconds,
                           {CONTROLLER: str(standins.log_file(layout, CONTROLLER)),
                            AGENT: str(standins.log_file(layout, f"{AGENT}-{faulty}"))})


def replace_quarantined_nodes(kube: Kube, cluster: str, timeout_seconds: float) -> list[str]:
    """What HyperPod does with a node pending replacement, for the demo's nodes: a fresh one."""
    node_type = kube.resource_type("v1", "Node")
    assert node_type is not None
    replaced = []
    for pristine in node_objects(cluster, default_spec()):
        name = pristine["metadata"]["name"]
        live = kube.get(node_type, name)
        health = (live or {}).get("metadata", {}).get("labels", {}).get(wire.NODE_HEALTH_LABEL)
        if live is None or not wire.is_unschedulable(health):
            continue
        kube.delete(node_type, name, uid=live["metadata"]["uid"])
        wait(lambda name=name: kube.get(node_type, name) is None or None,  # type: ignore[misc]
              f"{name} to go", timeout_seconds)
        kube.create(pristine)
        replaced.append(name)
    return replaced


def start_controller(kube: Kube, admin_kubeconfig: Path, layout: Layout, timeout_seconds: float) -> None:
    deployments = _release_objects(kube, "apps/v1", "Deployment", CONTROLLER)
    deployment = _only(deployments, f"the {CONTROLLER} Deployment")
    namespace = deployment["metadata"]["namespace"]
    pod = deployment["spec"]["template"]["spec"]
    settings = yaml.safe_load(_config_map_entry(kube, pod, namespace, "settings.yaml"))
    settings["metrics"] = {"port": processes.free_port(), "bindAddress": "127.0.0.1"}
    folder = standins.workdir(layout, CONTROLLER)
    config = folder / "settings.yaml"
    config.write_text(yaml.safe_dump(settings))
    identity = _identity(kube, admin_kubeconfig, namespace, pod["serviceAccountName"], folder)
    instance = f"{CONTROLLER}-standin"
    standins.start(layout, CONTROLLER, [_command(), "jobs", "controller", "--config", str(config),
                                        "--kubeconfig", str(identity)],
                   env={"POD_NAME": instance, "POD_NAMESPACE": namespace})
    election = settings["leaderElection"]

    def leading() -> bool | None:
        _alive(layout, CONTROLLER)
        lease = read_lease(kube, election["leaseNamespace"], election["leaseName"])
        return (lease is not None and lease.holder == instance) or None

    wait(leading, "the controller stand-in to lead", timeout_seconds)


def start_agents(kube: Kube, admin_kubeconfig: Path, layout: Layout,
                 timeout_seconds: float) -> dict[str, Path]:
    """One agent per node the chart's open agent DaemonSets placed a pod on; their kernel logs."""
    logs: dict[str, Path] = {}
    offsets: dict[str, int] = {}  # where each agent's output starts this time (a rerun appends)
    for daemonset in _release_objects(kube, "apps/v1", "DaemonSet", AGENT):
        namespace, pod = daemonset["metadata"]["namespace"], daemonset["spec"]["template"]["spec"]
        family = daemonset["metadata"]["labels"].get("hyperpod-deps/accelerator", "")
        settings = yaml.safe_load(_config_map_entry(kube, pod, namespace, f"config-{family}.yaml"))
        for node in _nodes_of(kube, daemonset):
            name = f"{AGENT}-{node}"
            folder = standins.workdir(layout, name)
            logs[node] = folder / "messages"
            logs[node].touch()
            config = folder / "config.yaml"
            config.write_text(yaml.safe_dump(_local_agent_settings(settings, folder, logs[node])))
            # Bound to its node, as a pod's projected token is: the chart's own-node policy
            # lets an agent write only the node its token names.
            identity = _identity(kube, admin_kubeconfig, namespace, pod["serviceAccountName"], folder, node)
            output = standins.log_file(layout, name)
            offsets[name] = output.stat().st_size if output.exists() else 0
            standins.start(layout, name, [_command(), "health", "agent", "--config", str(config),
                                          "--kubeconfig", str(identity)], env={"NODE_NAME": node})
    if not logs:
        raise StoryFailed("the chart placed no open health agent: install with global.platform=generic")
    for name, offset in offsets.items():
        wait(lambda name=name, offset=offset: _started(layout, name, offset),  # type: ignore[misc]
              f"the {name} stand-in to start", timeout_seconds)
    return logs


def _started(layout: Layout, name: str, offset: int) -> bool | None:
    _alive(layout, name)
    with standins.log_file(layout, name).open("rb") as output:
        output.seek(offset)
        return b"health agent started" in output.read() or None


def _alive(layout: Layout, name: str) -> None:
    if standins.running(layout, name) is None:
        tail = standins.log_file(layout, name).read_text(errors="replace").splitlines()[-10:]
        raise StoryFailed(f"the {name} stand-in exited:\n" + "\n".join(tail))


def _local_agent_settings(settings: dict[str, Any], folder: Path, log: Path) -> dict[str, Any]:
    """The chart's settings, reading the node's kernel log from a file instead of the host.

    The file is the simulated node's kernel log, which only the demo writes: its `kernel` tag is
    trusted here, as a site whose syslog daemon writes only kernel lines to a file would set it."""
    sources = settings["sources"]
    for source in ("journal", "kmsg", "nvml", "neuron", "efa"):  # no host behind a simulated node
        sources[source]["enabled"] = False
    sources["logFiles"]["paths"] = [str(log)]
    sources["logFiles"]["trustKernelTag"] = True
    return {**settings, "stateDir": str(folder / "state"), "metricsPort": 0}


def submit_job(kube: Kube, timeout_seconds: float, job: Manifest | None = None) -> None:
    """Submit `job` (the stand-ins' demo job by default), after the previous run's is gone."""
    namespace_type, job_type = kube.resource_type("v1", "Namespace"), _job_type(kube)
    assert namespace_type is not None
    if kube.get(namespace_type, DEMO_NAMESPACE) is None:
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEMO_NAMESPACE}})
    old = kube.get(job_type, JOB_NAME, DEMO_NAMESPACE)
    if old is not None:  # a previous run's job: start the story afresh
        kube.delete(job_type, JOB_NAME, DEMO_NAMESPACE)
        wait(lambda: kube.get(job_type, JOB_NAME, DEMO_NAMESPACE) is None or None,
              "the previous demo job to go", timeout_seconds)
        wait(lambda: not running_places(kube, set(), require_all=False) or None,
              "the previous demo job's pods to go", timeout_seconds)
    # A Ready operator pod is routed a moment later (its EndpointSlice, then the Service's route,
    # as with kube-proxy): until then the API server cannot call the operator's webhook and
    # answers 500, which `wait` retries. A refused job never exists, so retrying cannot double it.
    wait(lambda: kube.create(job or demo_job()), "the training operator's webhook to admit the job",
         timeout_seconds)


def demo_job() -> Manifest:
    """A master and a worker, each on one GPU of a node the health agents call Schedulable."""
    def replica(role: str) -> Manifest:
        return {"replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": {
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": wire.NODE_HEALTH_LABEL, "operator": "In", "values": [wire.SCHEDULABLE]}]}]}}},
            "containers": [{"name": "pytorch", "image": "demo/train:never-pulled",
                            "command": ["torchrun", "train.py", "--resume-from-checkpoint"],
                            "resources": {"limits": {"nvidia.com/gpu": 1},
                                          "requests": {"cpu": "1", "memory": "1Gi"}}}]}}}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": JOB_NAME, "namespace": DEMO_NAMESPACE, "annotations": {
                wire.AUTO_RESUME_ANNOTATION: "true", wire.MAX_RETRY_ANNOTATION: "2"}},
            "spec": {"pytorchReplicaSpecs": {"Master": replica("master"), "Worker": replica("worker")}}}


def running_places(kube: Kube, exclude: set[str], require_all: bool = True) -> list[PodPlace] | None:
    """Where the job's pods run, once every one of them (none of `exclude`) is Running."""
    pod_type = kube.resource_type("v1", "Pod")
    assert pod_type is not None
    selector = f"training.kubeflow.org/job-name={JOB_NAME}"
    pods = kube.snapshot(pod_type, DEMO_NAMESPACE, label_selector=selector).items
    live = [pod for pod in pods if not (pod.get("metadata") or {}).get("deletionTimestamp")]
    if not require_all:
        return [PodPlace("", p["metadata"]["name"], "", p["metadata"]["uid"]) for p in live] or None
    ready = [pod for pod in live if pod["metadata"]["uid"] not in exclude
             and (pod.get("status") or {}).get("phase") == "Running"]
    if len(ready) < 2 or len(ready) != len(live):
        return None
    return sorted((PodPlace(p["metadata"]["labels"].get("training.kubeflow.org/replica-type", "?"),
                            p["metadata"]["name"], str(p["spec"].get("nodeName")), p["metadata"]["uid"])
                   for p in ready), key=lambda place: place.pod)


def quarantined(kube: Kube, node_name: str) -> Manifest | None:
    node_type = kube.resource_type("v1", "Node")
    assert node_type is not None
    node = kube.get(node_type, node_name)
    if node is None:
        return None
    if not wire.is_unschedulable(node["metadata"].get("labels", {}).get(wire.NODE_HEALTH_LABEL)):
        return None
    return node if has_health_taint(node) else None


def inject_xid_79(log: Path, node: str) -> None:
    stamp = datetime.now(UTC).strftime("%b %d %H:%M:%S")
    with log.open("a") as handle:
        handle.write(f"{stamp} {node} kernel: [ 8123.456789] {XID_79}\n")


def job_events(kube: Kube, job: Manifest) -> list[str]:
    event_type = kube.resource_type("events.k8s.io/v1", "Event")
    assert event_type is not None
    uid = job["metadata"]["uid"]
    events = [e for e in kube.list(event_type, DEMO_NAMESPACE)
              if (e.get("regarding") or {}).get("uid") == uid]
    events.sort(key=_event_time)
    return [f"{e.get('type')} {e.get('reason')}: {e.get('note', '')}" for e in events]


def _event_time(event: Manifest) -> datetime:
    """eventTime has microseconds, older-style events only whole seconds: compare as times."""
    stamp = str(event.get("eventTime") or event.get("deprecatedLastTimestamp")
                or event["metadata"].get("creationTimestamp") or "1970-01-01T00:00:00Z")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _job_type(kube: Kube) -> Any:
    job_type = kube.resource_type("kubeflow.org/v1", "PyTorchJob")
    if job_type is None:
        raise StoryFailed("the cluster does not serve PyTorchJob: the chart's CRDs are missing")
    return job_type


def _job(kube: Kube) -> Manifest:
    job = kube.get(_job_type(kube), JOB_NAME, DEMO_NAMESPACE)
    if job is None:
        raise StoryFailed(f"PyTorchJob {DEMO_NAMESPACE}/{JOB_NAME} disappeared")
    return job


def _release_objects(kube: Kube, api_version: str, kind: str, component: str) -> list[Manifest]:
    rtype = kube.resource_type(api_version, kind)
    assert rtype is not None
    selector = f"app.kubernetes.io/instance={DEFAULT_RELEASE},app.kubernetes.io/name={component}"
    return kube.snapshot(rtype, None, label_selector=selector).items


def _only(objects: list[Manifest], what: str) -> Manifest:
    if len(objects) != 1:
        raise StoryFailed(f"expected one {what} of release {DEFAULT_RELEASE} in {DEFAULT_NAMESPACE}, "
                          f"found {len(objects)}: is job-auto-restart.controller.enabled on?")
    return objects[0]


def _nodes_of(kube: Kube, daemonset: Manifest) -> list[str]:
    pod_type = kube.resource_type("v1", "Pod")
    assert pod_type is not None
    selector = ",".join(f"{k}={v}" for k, v in daemonset["spec"]["selector"]["matchLabels"].items())
    pods = kube.snapshot(pod_type, daemonset["metadata"]["namespace"], label_selector=selector).items
    return sorted({str(pod["spec"]["nodeName"]) for pod in pods if (pod.get("spec") or {}).get("nodeName")})


def _config_map_entry(kube: Kube, pod: Manifest, namespace: str, key: str) -> str:
    names = [v["configMap"]["name"] for v in pod.get("volumes") or [] if "configMap" in v]
    config_map_type = kube.resource_type("v1", "ConfigMap")
    assert config_map_type is not None
    for name in names:
        data = (kube.get(config_map_type, name, namespace) or {}).get("data") or {}
        if key in data:
            return str(data[key])
    raise StoryFailed(f"no ConfigMap of the pod template in {namespace} holds {key} (looked in {names})")


def _identity(kube: Kube, admin_kubeconfig: Path, namespace: str, service_account: str, folder: Path,
              node: str | None = None) -> Path:
    token = service_account_token(kube, namespace, service_account, seconds=24 * 3600, node=node)
    return kubeconfig.with_token(admin_kubeconfig, f"system:serviceaccount:{namespace}:{service_account}",
                                 token, folder / "kubeconfig")


def _command() -> str:
    """The hyperpod-deps installed next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("hyperpod-deps")
    return str(beside) if beside.exists() else "hyperpod-deps"


def wait(probe: Callable[[], T | None], what: str, timeout_seconds: float) -> T:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            found = probe()
        except RequestFailed as error:
            if not error.temporary:
                raise
            found = None
        if found:
            return found
        if time.monotonic() >= deadline:
            raise StoryFailed(f"waited {timeout_seconds:.0f}s for {what}")
        time.sleep(POLL_SECONDS)


def render_story(story: ResumeStory) -> str:
    before = {place.role: place for place in story.before}
    rows = [[place.role, before[place.role].pod if place.role in before else "-",
             before[place.role].node if place.role in before else "-", place.pod, place.node]
            for place in story.after]
    moved = table(["ROLE", "POD BEFORE", "NODE BEFORE", "POD AFTER", "NODE AFTER"], rows)
    taint = "tainted NoSchedule" if story.tainted else "not tainted"
    lines = [
        f"Auto-resume: PyTorchJob {DEMO_NAMESPACE}/{JOB_NAME} after an Xid 79 on {story.faulty_node}.",
        f"  {story.faulty_node}: {wire.NODE_HEALTH_LABEL}={story.health_status}, {taint} "
        f"({story.seconds['quarantined']:.1f}s after the kernel log line)",
        f"  the job runs again {story.seconds['back']:.1f}s after the line; restarts counted on the job: "
        f"{story.restarts} ({RESTART_COUNT_ANNOTATION})",
        moved,
        "Events on the job:",
        *(f"  {event}" for event in story.events),
        story.log_heading,
        *(f"  {name}: {where}" for name, where in story.logs.items()),
        *([""] + [f"  {name} said: {line}" for name, line in story.log_lines.items()]
          if story.log_lines else []),
    ]
    return "\n".join(lines)
