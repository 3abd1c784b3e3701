"""`cluster up | down | status`: the local control plane's lifecycle."""
from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyperpod_deps.core.manifest import is_ready
from hyperpod_deps.localcluster import (
    commands,
    kubeconfig,
    netplan,
    netrules,
    operators,
    processes,
    realnode,
    realnodes,
    registry,
    served_images,
    servicerouter,
    standins,
)
from hyperpod_deps.localcluster.layout import Layout, Ports
from hyperpod_deps.localcluster.netplan import LocalRoute, NetworkPlan
from hyperpod_deps.localcluster.nodespec import NodeSpec, node_objects
from hyperpod_deps.localcluster.pki import ensure_pki
from hyperpod_deps.toolchain.gobuild import Progress, stderr_progress
from hyperpod_deps.toolchain.helm import kubectl_path
from hyperpod_deps.toolchain.kubernetes import (
    CONTROL_PLANE,
    ControlPlaneBinaries,
    ensure_control_plane,
    ensure_kubelet,
)

START_TIMEOUT_SECONDS = {"etcd": 30.0, "kube-apiserver": 120.0, "kube-controller-manager": 60.0,
                         "kube-scheduler": 60.0, "kwok": 30.0}


class ClusterError(RuntimeError):
    """The cluster could not be brought up (or is in a state that needs `down` first)."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    port: int | None
    log: Path


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    state_dir: Path
    kubeconfig: Path | None
    server: str | None
    components: tuple[ComponentStatus, ...]
    versions: dict[str, str] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)  # the address plan; "isolated": rules on
    registry: str | None = None  # host:port of the cluster's OCI registry, while it runs
    real_nodes: tuple[str, ...] = ()  # names of the real kubelet nodes

    @property
    def running(self) -> bool:
        return all(c.pid is not None for c in self.components)

    @property
    def stopped(self) -> bool:
        return all(c.pid is None for c in self.components)


def up(name: str, spec: NodeSpec, kubeconfig_path: Path | None = None, apiserver_port: int | None = None,
       binaries: ControlPlaneBinaries | None = None, progress: Progress = stderr_progress,
       allow_egress: bool = False, with_registry: bool = True, real_nodes: int = 0) -> ClusterStatus:
    """With `allow_egress`, no nftables rules are installed (for a user who cannot be root):
    calls to the cluster's Service, pod and node addresses then leave by the default route.
    With `with_registry` (the default) the cluster's OCI registry runs beside it (registry.py).
    `real_nodes` real kubelet nodes join the simulated ones (realnodes.py); they pull images
    from the cluster's registry, so they need it and the network rules."""
    layout = Layout.for_cluster(name)
    current = status(name)
    if not current.stopped:
        raise ClusterError(f"cluster {name!r} is already (partly) running: run `hyperpod-deps cluster down "
                           f"--name {name}` first, or `cluster status` to see it")
    _check_real_nodes(real_nodes, allow_egress, with_registry)
    if not allow_egress:
        netrules.require_rules()  # before a build that may take many minutes
    if with_registry:
        registry.binary()  # the same: fail before the build, with the install command
    registry.stop(layout)  # one a crashed run left behind: _reset drops its pid file
    realnodes.stop_all(layout)  # and its real nodes
    ports = _choose_ports(apiserver_port)
    binaries = binaries or ensure_control_plane(progress=progress)
    kubelet = ensure_kubelet(progress=progress) if real_nodes else None
    started = time.monotonic()
    plan = _claim_network(layout, ports, allow_egress, progress, real_nodes)
    try:
        _reset(layout, plan)
        server = f"https://{netplan.LOOPBACK}:{ports.apiserver}"
        _write_configs(layout, server, binaries)
        target = kubeconfig_path or layout.default_kubeconfig
        _save_state(layout, ports, target, plan, isolated=not allow_egress)
        for component in commands.COMPONENTS:
            progress(f"starting {component}")
            argv = commands.command_line(component, binaries, layout, ports, plan)
            processes.start(component, argv, layout)
            processes.wait_healthy(component, commands.health_url(component, ports), layout,
                                   _probe_context(component, layout), START_TIMEOUT_SECONDS[component])
        admin = kubeconfig.write(target, name, server, layout.pki, "admin", "kubernetes-admin")
        _add_nodes(layout, admin, spec, progress)
        if with_registry:
            progress("starting the cluster's OCI registry")
            _record(layout, "registry", registry.start(layout, processes.free_port()))
        if kubelet is not None:
            _add_real_nodes(layout, plan, admin, kubelet, real_nodes, progress)
    except BaseException:
        down(name)
        raise
    progress(f"cluster {name!r} is up in {time.monotonic() - started:.1f}s; kubeconfig: {target}")
    return status(name)


def down(name: str, purge: bool = False) -> ClusterStatus:
    """Stop every process (reverse start order), wait until their ports are free, drop the data.

    With purge, also delete the certificates, logs and default kubeconfig: nothing is left.
    """
    layout = Layout.for_cluster(name)
    state = _load_state(layout)
    processes.stop(servicerouter.COMPONENT, layout)
    realnodes.stop_all(layout)  # first: their kubelets and pods talk to everything below
    standins.stop_all(layout)  # local stand-ins for the chart's pods, if any
    registry.stop(layout)
    operators.stop_all(layout.root)  # Kubeflow operators started against this cluster, if any
    for component in reversed(commands.COMPONENTS):
        processes.stop(component, layout)
    ports = [p for p in state.get("ports", {}).values() if isinstance(p, int)]
    deadline = time.monotonic() + 10
    while any(not processes.port_free(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    netrules.release(name, layout.root)  # after the processes: none of them sends a packet unguarded
    shutil.rmtree(layout.etcd_data, ignore_errors=True)
    layout.state_file.unlink(missing_ok=True)
    if purge:
        shutil.rmtree(layout.root, ignore_errors=True)
    return status(name)


def stop_component(name: str, component: str, grace_seconds: float = 15.0) -> None:
    """Stop one process of a running cluster (e.g. kube-apiserver, to test clients through an
    outage): SIGTERM, then SIGKILL after the grace period (kube-apiserver drains for long)."""
    processes.stop(component, Layout.for_cluster(name), grace_seconds)


def start_component(name: str, component: str, binaries: ControlPlaneBinaries | None = None) -> None:
    """Start one stopped process again, with the command line and ports it had, and wait until healthy."""
    layout = Layout.for_cluster(name)
    state = _load_state(layout)
    if "ports" not in state:
        raise ClusterError(f"cluster {name!r} is not up: no ports recorded")
    ports = Ports(**state["ports"])
    plan = NetworkPlan(name, netplan.owner_digest(layout.root), int(state["network"]["slot"]))
    binaries = binaries or ensure_control_plane()
    processes.start(component, commands.command_line(component, binaries, layout, ports, plan), layout)
    processes.wait_healthy(component, commands.health_url(component, ports), layout,
                           _probe_context(component, layout), START_TIMEOUT_SECONDS[component])


def restart_component(name: str, component: str, binaries: ControlPlaneBinaries | None = None,
                      grace_seconds: float = 15.0) -> None:
    stop_component(name, component, grace_seconds)
    start_component(name, component, binaries)


def status(name: str) -> ClusterStatus:
    layout = Layout.for_cluster(name)
    state = _load_state(layout)
    ports: dict[str, int] = state.get("ports", {})
    port_of = {"etcd": ports.get("etcd_client"), "kube-apiserver": ports.get("apiserver"),
               "kube-controller-manager": ports.get("controller_manager"),
               "kube-scheduler": ports.get("scheduler"), "kwok": ports.get("kwok")}
    components = tuple(
        ComponentStatus(c, processes.running_pid(c, layout), port_of[c], layout.log_file(c))
        for c in commands.COMPONENTS)
    kubeconfig_file = state.get("kubeconfig")
    server = f"https://{netplan.LOOPBACK}:{ports['apiserver']}" if "apiserver" in ports else None
    return ClusterStatus(name, layout.root, Path(kubeconfig_file) if kubeconfig_file else None, server,
                         components, state.get("versions", {}), state.get("network", {}),
                         state.get("registry") if registry.running(layout) else None,
                         tuple(state.get("realNodes", [])))


def _choose_ports(apiserver_port: int | None) -> Ports:
    if apiserver_port is not None:
        processes.require_free({"kube-apiserver": apiserver_port})
    chosen: list[int] = []
    while len(chosen) < 5:
        port = processes.free_port()
        if port not in chosen and port != apiserver_port:
            chosen.append(port)
    etcd_client, etcd_peer, kcm, scheduler, kwok = chosen
    return Ports(etcd_client, etcd_peer, apiserver_port or processes.free_port(), kcm, scheduler, kwok)


def _check_real_nodes(count: int, allow_egress: bool, with_registry: bool) -> None:
    if count == 0:
        return
    if not 0 < count <= netplan.MAX_REAL_NODES:
        raise ClusterError(f"--real-nodes {count}: between 1 and {netplan.MAX_REAL_NODES}")
    if allow_egress or not with_registry:
        raise ClusterError("real nodes need the cluster's network rules and its registry (they pull "
                           "from it): leave out --allow-egress and --no-registry")
    realnodes.require_host()


def _add_real_nodes(layout: Layout, plan: NetworkPlan, admin: Path, kubelet: Path, count: int,
                    progress: Progress) -> None:
    served = _load_state(layout)["registry"]
    served_images.serve(served, progress)
    names = []
    for index in range(count):
        names.append(realnodes.start(layout, plan, index, admin, served, kubelet, progress).name)
        _record(layout, "realNodes", names)
    values = layout.root / "real-node-values.yaml"
    values.write_text(yaml.safe_dump(realnode.chart_values(), sort_keys=False))
    progress(f"real nodes are tainted {realnode.REAL_NODE_LABEL}: the device plugins stay on the simulated "
             f"nodes; `helm install -f {values}` runs the controller and operators on the real nodes")
    subnets = [f"--subnet={plan.real_node_subnet(index)}" for index in range(count)]
    router = [sys.executable, "-m", servicerouter.__name__, f"--kubeconfig={admin}",
              f"--state-dir={layout.root}", *subnets]
    processes.start(servicerouter.COMPONENT, router, layout)


def _claim_network(layout: Layout, ports: Ports, allow_egress: bool, progress: Progress,
                   real_nodes: int = 0) -> NetworkPlan:
    """The cluster's address slot, with its nftables table installed (unless egress is allowed)."""
    if allow_egress:
        progress("no network rules (--allow-egress): calls to the cluster's Service, pod and node "
                 "addresses may leave this machine")
        return NetworkPlan(layout.name, netplan.owner_digest(layout.root), 0)

    def routes(plan: NetworkPlan) -> tuple[LocalRoute, ...]:
        return (LocalRoute(plan.kubernetes_service_ip, netplan.HTTPS_PORT, ports.apiserver),
                LocalRoute(plan.node_ip, netplan.KUBELET_PORT, ports.kwok))

    plan = netrules.claim(layout.name, layout.root, routes, real_nodes)
    progress(f"network: services {plan.service_cidr}, pods {plan.pod_cidr}, nodes at {plan.node_ip}; "
             f"nftables table '{netplan.TABLE_FAMILY} {plan.table}' keeps them on this machine")
    return plan


def _reset(layout: Layout, plan: NetworkPlan) -> None:
    """A fresh cluster each time; the CA is kept so a copied kubeconfig's trust stays valid."""
    for stale in (layout.etcd_data, layout.run, layout.logs):
        shutil.rmtree(stale, ignore_errors=True)
    layout.root.mkdir(parents=True, exist_ok=True)
    ensure_pki(layout.pki, plan.kubernetes_service_ip)


def _write_configs(layout: Layout, server: str, binaries: ControlPlaneBinaries) -> None:
    users = {"kube-controller-manager": "system:kube-controller-manager",
             "kube-scheduler": "system:kube-scheduler", "kwok": "system:kwok-controller"}
    for component, user in users.items():
        kubeconfig.write(layout.component_kubeconfig(component), layout.name, server, layout.pki,
                         component, user)
    layout.kwok_config.write_text(binaries.kwok_stages.read_text())


def _save_state(layout: Layout, ports: Ports, kubeconfig_path: Path, plan: NetworkPlan,
                isolated: bool) -> None:
    state = {"name": layout.name, "ports": ports.as_dict(), "kubeconfig": str(kubeconfig_path),
             "network": {**plan.as_dict(), "isolated": isolated},
             "versions": {"kubernetes": CONTROL_PLANE.kubernetes, "etcd": CONTROL_PLANE.etcd,
                          "kwok": CONTROL_PLANE.kwok}}
    layout.state_file.write_text(json.dumps(state, indent=2) + "\n")


def _record(layout: Layout, key: str, value: object) -> None:
    state = _load_state(layout)
    state[key] = value
    layout.state_file.write_text(json.dumps(state, indent=2) + "\n")


def _load_state(layout: Layout) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return {}
    return loaded


def _probe_context(component: str, layout: Layout) -> ssl.SSLContext | None:
    if component == "kube-apiserver":
        context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
        context.load_cert_chain(layout.pki / "admin.crt", layout.pki / "admin.key")
        return context
    if component in ("kube-controller-manager", "kube-scheduler"):
        # They serve /healthz with a certificate they make themselves on loopback.
        return ssl._create_unverified_context()
    return None


# Node creation is one request per node: a few kubectl processes in parallel
# keep the API server busy without starving the other components on 2 cores.
NODE_CREATE_WORKERS = 4


def _add_nodes(layout: Layout, admin: Path, spec: NodeSpec, progress: Progress) -> None:
    nodes = node_objects(layout.name, spec)
    progress(f"adding {len(nodes)} simulated nodes")
    # A Node keeps the status it is created with (its capacity); kwok fills in the rest.
    chunks = [nodes[index::NODE_CREATE_WORKERS] for index in range(NODE_CREATE_WORKERS)]
    workers = []
    for index, chunk in enumerate(c for c in chunks if c):
        manifest = layout.root / f"nodes-{index}.yaml"
        manifest.write_text(yaml.safe_dump_all(chunk, sort_keys=False))
        workers.append(subprocess.Popen(
            [str(kubectl_path()), "--kubeconfig", str(admin), "create", "-f", str(manifest)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    errors = [worker.communicate()[1].strip() for worker in workers if worker.wait() != 0]
    if errors:
        raise ClusterError("creating the simulated nodes failed: " + "; ".join(errors))
    _wait_for_ready_nodes(admin, len(nodes), progress)
    _wait_for_default_service_account(admin)


def _wait_for_ready_nodes(admin: Path, expected: int, progress: Progress) -> None:
    """One list of the nodes per poll (not a watch per node), under a deadline that grows with the count."""
    deadline = time.monotonic() + 60 + expected * 0.2
    ready = 0
    while time.monotonic() < deadline:
        listed = json.loads(_kubectl(admin, "get", "nodes", "-l", "type=kwok", "-o", "json"))
        ready = sum(1 for node in listed["items"] if is_ready(node))
        if ready >= expected:
            return
        time.sleep(1)
    progress(f"{ready} of {expected} nodes Ready")
    raise ClusterError(f"only {ready} of {expected} simulated nodes became Ready; see the kwok log")


def _wait_for_default_service_account(admin: Path, timeout_seconds: float = 60) -> None:
    """Pods are refused until the controller manager has made the namespace's service account."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        found = subprocess.run([str(kubectl_path()), "--kubeconfig", str(admin), "get", "serviceaccount",
                                "default", "-n", "default", "-o", "name"],
                               capture_output=True, text=True, check=False)
        if found.returncode == 0:
            return
        time.sleep(0.5)
    raise ClusterError("the default service account never appeared: kube-controller-manager is not working")


def _kubectl(admin: Path, *args: str) -> str:
    result = subprocess.run([str(kubectl_path()), "--kubeconfig", str(admin), *args],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout
