"""hyperpod-deps demo: a local cluster with simulated HyperPod nodes, the chart installed on it
exactly as the documented workflow installs it, and a table of which component runs where."""
from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click

from hyperpod_deps.chart.components import components
from hyperpod_deps.chart.locate import default_chart
from hyperpod_deps.chart.render import DEFAULT_NAMESPACE, DEFAULT_RELEASE
from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.table import table
from hyperpod_deps.demo import host_journal, real_pods
from hyperpod_deps.demo.story import ResumeStory, StoryFailed, render_story, run_story
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import KubeError
from hyperpod_deps.localcluster import cluster as local
from hyperpod_deps.localcluster import operators, realnodes
from hyperpod_deps.localcluster.layout import DEFAULT_NAME, ClusterNameError, Layout, check_name
from hyperpod_deps.localcluster.netplan import NetworkError
from hyperpod_deps.localcluster.nodespec import default_spec
from hyperpod_deps.localcluster.pki import PkiError
from hyperpod_deps.localcluster.placement import ApiObject, Placement, WorkloadStatus, pending, placement
from hyperpod_deps.localcluster.placement import workload_statuses as statuses_of
from hyperpod_deps.localcluster.processes import ComponentFailed, PortTaken
from hyperpod_deps.toolchain import agents_image, static_images
from hyperpod_deps.toolchain.gobuild import GoBuildFailed, GoUnavailable
from hyperpod_deps.toolchain.helm import DEFAULT_HELM_MAJOR, ToolUnavailable, helm_path, kubectl_path

# The simulated nodes carry the instance-type labels every DaemonSet selects on, and no image is
# ever pulled (kwok marks pods Running). The one value: the generic platform, whose open health
# agent and auto-restart controller handle every job here, as no HyperPod control plane exists.
LOCAL_CLUSTER_VALUES: tuple[str, ...] = ("--set", "global.platform=generic")
READY_TIMEOUT_SECONDS = 300
POLL_SECONDS = 2.0
REPORT_EVERY_SECONDS = 10.0
WAITING_SHOWN = 3  # workloads named per progress line

Progress = Callable[[str], None]
Fetch = Callable[[], list[ApiObject]]


class HelmFailed(RuntimeError):
    """helm refused to install the chart; the message is helm's own."""


class KubectlFailed(RuntimeError):
    """kubectl could not read from the API server; the message is kubectl's own."""


class NotReady(RuntimeError):
    """Some Deployment or DaemonSet was not ready by the deadline; the message names them."""


@dataclass(frozen=True)
class DemoResult:
    cluster: str
    server: str
    kubeconfig: Path
    reused: bool  # the cluster was already running: `helm upgrade --install` on it
    helm_command: str
    helm: Path
    kubectl: Path
    placement: Placement
    seconds: dict[str, float]  # cluster, install, ready
    story: ResumeStory | None  # the job brought back after a node fault (None with --no-fault)


def helm_argv(helm: Path, chart: str, kubeconfig: Path, reused: bool,
              values_files: Sequence[Path] = ()) -> list[str]:
    """The documented install command; on a cluster that may hold the release, an upgrade."""
    verb = ["upgrade", "--install"] if reused else ["install"]
    files = [argument for path in values_files for argument in ("-f", str(path))]
    return [str(helm), *verb, DEFAULT_RELEASE, chart, "--namespace", DEFAULT_NAMESPACE,
            *LOCAL_CLUSTER_VALUES, *files, "--kubeconfig", str(kubeconfig)]


def real_pods_unavailable() -> str | None:
    """Why this machine cannot run the chart's pods on a real node (None: it can)."""
    try:
        realnodes.require_host()
    except realnodes.RealNodeError as error:
        return str(error)
    if not agents_image.archive_path().is_file():
        return "the agents image is not built (make image)"
    missing = [image.name for image in static_images.operator_images() if not image.binary.is_file()]
    return f"{', '.join(missing)} not built (make operators)" if missing else None


def chart_argument(chart: Path, cwd: Path) -> str:
    """`helm_chart/HyperPodHelmChart` as the README spells it, when run from the checkout."""
    try:
        return str(chart.resolve().relative_to(cwd.resolve()))
    except ValueError:
        return str(chart)


def wait_ready(fetch: Fetch, timeout_seconds: float, progress: Progress,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> tuple[WorkloadStatus, ...]:
    """Poll until every Deployment and DaemonSet the fetch returns is ready, or raise NotReady."""
    deadline, last_report, last_line = clock() + timeout_seconds, clock(), ""
    statuses: tuple[WorkloadStatus, ...] = ()
    error = ""
    while True:
        try:
            statuses, error = statuses_of(fetch()), ""
        except KubectlFailed as failure:  # a busy API server may refuse a request now and then
            error = str(failure)
        waiting = pending(statuses)
        if statuses and not waiting and not error:
            return statuses
        line = _waiting_line(statuses, waiting, error)
        if line != last_line or clock() - last_report >= REPORT_EVERY_SECONDS:
            progress(line)
            last_report, last_line = clock(), line
        if clock() >= deadline:
            raise NotReady(f"not ready after {timeout_seconds:.0f}s: {line}")
        sleep(POLL_SECONDS)


def _waiting_line(statuses: Sequence[WorkloadStatus], waiting: Sequence[WorkloadStatus], error: str) -> str:
    if error:
        return f"cannot read the workloads yet ({error})"
    if not statuses:
        return f"no Deployment or DaemonSet of release {DEFAULT_RELEASE} found yet"
    shown = [f"{s.ref} {s.ready_pods}/{s.desired}" for s in waiting[:WAITING_SHOWN]]
    more = f" and {len(waiting) - WAITING_SHOWN} more" if len(waiting) > WAITING_SHOWN else ""
    ready = len(statuses) - len(waiting)
    return f"{ready}/{len(statuses)} workloads ready; waiting for {', '.join(shown)}{more}"


class Kubectl:
    """`kubectl get -o json` against the demo cluster."""

    def __init__(self, kubectl: Path, kubeconfig: Path) -> None:
        self.base = [str(kubectl), "--kubeconfig", str(kubeconfig)]

    def items(self, *args: str) -> list[ApiObject]:
        result = subprocess.run([*self.base, "get", *args, "-o", "json"],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KubectlFailed(result.stderr.strip() or f"kubectl get {' '.join(args)} failed")
        items: list[ApiObject] = json.loads(result.stdout)["items"]
        return items

    def release_objects(self, kinds: str) -> list[ApiObject]:
        return self.items(kinds, "--all-namespaces", "-l", f"app.kubernetes.io/instance={DEFAULT_RELEASE}")


def run_demo(name: str, chart: Path, timeout_seconds: float, progress: Progress,
             fault: bool = True, real: bool | None = None) -> DemoResult:
    """`real`: the chart's pods on a real node (True), stand-ins (False), or whichever this
    machine can run (None)."""
    seconds: dict[str, float] = {}
    progress(f"[1/6] helm and kubectl (Helm {DEFAULT_HELM_MAJOR}, pinned; fetched once into the cache)")
    helm, kubectl = helm_path(DEFAULT_HELM_MAJOR), kubectl_path(DEFAULT_HELM_MAJOR)
    unavailable = real_pods_unavailable() if real is not False else "--stand-ins"
    if real and unavailable:
        raise local.ClusterError(f"--real-pods: {unavailable}")

    progress(f"[2/6] local cluster {name!r}")
    started = time.monotonic()
    status, reused = _running_cluster(name, progress, real_nodes=0 if unavailable else 1)
    if status.kubeconfig is None or status.server is None:
        raise local.ClusterError(f"cluster {name!r} runs but has no kubeconfig recorded: "
                                 f"`hyperpod-deps cluster down --name {name}`, then retry")
    seconds["cluster"] = time.monotonic() - started
    real_node = status.real_nodes[0] if status.real_nodes else None
    if real_node is None:
        progress(f"the chart's pods will be played by stand-ins (local processes): "
                 f"{unavailable or 'the running cluster has no real node'}")
    values = [Layout.for_cluster(name).root / "real-node-values.yaml"] if real_node else []

    argv = helm_argv(helm, chart_argument(chart, Path.cwd()), status.kubeconfig, reused, values)
    progress("[3/6] installing the chart for any Kubernetes cluster (global.platform=generic: the open "
             "health agent and the auto-restart controller act, as no HyperPod control plane exists here)")
    progress(f"$ {shlex.join(argv)}")
    started = time.monotonic()
    if reused:  # the previous run's local training operator: Helm takes its webhook back
        operators.stop(operators.TRAINING_OPERATOR, Layout.for_cluster(name).root)
        operators.withdraw_loopback_webhook(status.kubeconfig)
    _run_helm(argv)
    seconds["install"] = time.monotonic() - started

    progress(f"[4/6] waiting for every Deployment and DaemonSet of release {DEFAULT_RELEASE} to be ready "
             f"(at most {timeout_seconds:.0f}s)")
    cluster_api = Kubectl(kubectl, status.kubeconfig)
    wait_ready(lambda: cluster_api.release_objects("daemonsets,deployments"), timeout_seconds, progress)
    seconds["ready"] = time.monotonic() - started
    names = {c.values_key: c.chart for c in components(chart)}
    where = placement(cluster_api.release_objects("daemonsets,deployments,replicasets,pods"),
                      cluster_api.items("nodes"), names)
    story = None
    if not fault:
        progress("[5/6] and [6/6] skipped (--no-fault): no job and no fault this time")
    else:
        progress("[5/6] a training job that opted in to auto-resume, and a GPU fault under it")
        if real_node is None:
            story = run_story(status.kubeconfig, Layout.for_cluster(name), timeout_seconds, progress)
        else:
            with Kube.connect(status.kubeconfig) as kube:
                story = real_pods.run_story(kube, status.kubeconfig, Layout.for_cluster(name), real_node,
                                            timeout_seconds, progress)
        progress("[6/6] the node is quarantined and the job runs again on healthy nodes")
    return DemoResult(name, status.server, status.kubeconfig, reused, shlex.join(argv), helm, kubectl,
                      where, seconds, story)


def _running_cluster(name: str, progress: Progress, real_nodes: int) -> tuple[local.ClusterStatus, bool]:
    current = local.status(name)
    if current.running:
        progress(f"cluster {name!r} is already running ({current.server}): reusing it")
        return current, True
    progress("starting it with the default nodes" + (" and a real node" if real_nodes else "")
             + " (the first run builds the control plane: many minutes)")
    return local.up(name, default_spec(), progress=progress, real_nodes=real_nodes), False


def _run_helm(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HelmFailed(result.stderr.strip() or result.stdout.strip() or "helm failed with no message")


@click.command("demo")
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Name of the local cluster.")
@click.option("--keep/--down", default=True, show_default=True,
              help="Leave the cluster running to explore it, or stop it once the table is printed.")
@click.option("--fault/--no-fault", default=True, show_default=True,
              help="After the install, run a training job, break a GPU under it, and watch it come back.")
@click.option("--timeout", "timeout_seconds", type=click.IntRange(10, 3600), default=READY_TIMEOUT_SECONDS,
              show_default=True, help="Seconds to wait for every Deployment and DaemonSet to be ready.")
@click.option("--real-pods/--stand-ins", "real", default=None,
              help="The chart's own pods on a real kubelet node, or stand-ins as local processes "
                   "[default: real pods where this machine can run them (root, containerd, make image, "
                   "make operators), else stand-ins].")
def demo_command(name: str, keep: bool, fault: bool, timeout_seconds: int, real: bool | None) -> None:
    """Start a local cluster with simulated HyperPod nodes (or reuse it), install the chart with
    `helm install dependencies helm_chart/HyperPodHelmChart --namespace kube-system`, wait until
    every component is ready, and show which component runs on which node."""
    try:
        check_name(name)
    except ClusterNameError as error:
        raise click.UsageError(str(error)) from error
    try:
        result = run_demo(name, default_chart(), timeout_seconds, _progress, fault, real)
    except (GoUnavailable, GoBuildFailed, ToolUnavailable, PkiError) as error:
        _fail(str(error), ExitCode.TOOL_UNAVAILABLE, name, keep)
    except HelmFailed as error:
        _fail(f"helm refused the install:\n{error}", ExitCode.HELM_REFUSED, name, keep)
    except (PortTaken, ComponentFailed, local.ClusterError, KubectlFailed, NotReady, StoryFailed,
            KubeError, NetworkError, realnodes.RealNodeError, host_journal.JournalUnavailable) as error:
        _fail(str(error), ExitCode.CLUSTER_FAILED, name, keep)
    except BaseException:
        _stop_unless_kept(name, keep)
        raise
    _stop_unless_kept(name, keep)
    click.echo(render(result, kept=keep))


def render(result: DemoResult, kept: bool) -> str:
    where = result.placement
    verb = "upgraded" if result.reused else "installed"
    header = (f"Release {DEFAULT_RELEASE} {verb} in namespace {DEFAULT_NAMESPACE} on cluster "
              f"{result.cluster} ({len(where.nodes)} nodes): every Deployment and DaemonSet is ready.")
    workloads = table(["COMPONENT", "WORKLOAD", "READY", "INSTANCE TYPES"], [
        [s.component, str(s.ref), f"{s.ready_pods}/{s.desired}",
         ", ".join(where.instance_types_of(s.ref)) or "-"]
        for s in where.workloads])
    nodes = table(["NODE", "INSTANCE TYPE", "COMPONENT", "WORKLOAD"], [
        [n.node, n.instance_type, "\n".join(w.component for w in n.workloads) or "-",
         "\n".join(str(w.ref) for w in n.workloads) or "-"]
        for n in where.nodes])
    took = result.seconds
    timings = (f"Took: cluster {took['cluster']:.1f}s ({'reused' if result.reused else 'started'}), "
               f"helm {took['install']:.1f}s, all ready {took['ready']:.1f}s after helm started.")
    story = [render_story(result.story)] if result.story else []
    return "\n\n".join([header, workloads, nodes, timings, *story, _next_steps(result, kept)])


def _next_steps(result: DemoResult, kept: bool) -> str:
    named = "" if result.cluster == DEFAULT_NAME else f" --name {result.cluster}"
    if not kept:
        return f"The cluster is stopped (--down). `hyperpod-deps demo{named}` starts it again."
    tools = f"{result.kubectl.parent}:{result.helm.parent}"
    return "\n".join([
        f"The cluster keeps running (API server {result.server}). Use it:",
        f"  export KUBECONFIG={result.kubeconfig}",
        f"  export PATH={tools}:$PATH    # the pinned kubectl and helm the demo used",
        "  kubectl get pods -A -o wide",
        f"  helm list --namespace {DEFAULT_NAMESPACE}",
        "Stop it:",
        f"  hyperpod-deps cluster down{named}",
    ])


def _stop_unless_kept(name: str, keep: bool) -> None:
    if not keep:
        _progress(f"stopping cluster {name!r} (--down)")
        local.down(name)


def _fail(message: str, code: int, name: str, keep: bool) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    if keep and local.status(name).running:
        click.echo(f"cluster {name!r} is left running to look into; stop it with "
                   f"`hyperpod-deps cluster down --name {name}`", err=True)
    _stop_unless_kept(name, keep)
    raise SystemExit(code)


def _progress(message: str) -> None:
    click.echo(f"==> {message}" if message[:1] == "[" else f"    {message}", err=True)
