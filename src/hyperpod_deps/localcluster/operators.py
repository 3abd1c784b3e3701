"""The real Kubeflow training operator and MPI operator as local processes against a cluster.

Usable with any cluster reachable by a kubeconfig (the local one, the demo's): each function
takes the kubeconfig and a state folder, where the processes' logs (`logs/`), pid files
(`run/`) and the webhook certificates go. A local cluster's own folder is the natural one.
The CRDs must be installed first (the MPI operator exits without its CRD).
"""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.apply import create_or_replace
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import RequestFailed
from hyperpod_deps.localcluster import netrules, processes
from hyperpod_deps.localcluster import operator_objects as objects
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.localcluster.netplan import LOOPBACK, LocalRoute, NetworkError, NetworkPlan
from hyperpod_deps.localcluster.operator_locks import PortLock, hold_port
from hyperpod_deps.localcluster.webhookcerts import WebhookCerts, ensure_webhook_certs
from hyperpod_deps.toolchain.kubeflow import ensure_mpi_operator, ensure_training_operator

SERVICE = ResourceType("v1", "Service", "services", True)
NAMESPACE = ResourceType("v1", "Namespace", "namespaces", False)
TRAINING_OPERATOR = "training-operator"
MPI_OPERATOR = "mpi-operator"
# cert-controller v0.10.1 (inside the training operator) only checks that this file exists
# before it reports the certificates mounted; the webhook server itself reads $TMPDIR/...
ROTATOR_CERT_FILE = Path("/tmp/k8s-webhook-server/serving-certs/tls.crt")


class OperatorAlreadyRunning(RuntimeError):
    """One of each operator per state folder (and per cluster)."""


class OperatorUnreachable(NetworkError):
    """The cluster has no network rules through which its API server could call the webhook."""


@dataclass(frozen=True)
class RunningOperator:
    name: str
    pid: int
    log: Path


@dataclass(frozen=True)
class TrainingOperator(RunningOperator):
    namespace: str
    ports: objects.TrainingOperatorPorts
    schemes: tuple[str, ...]


def start_training_operator(kubeconfig: Path, directory: Path, namespace: str = "kubeflow",
                            schemes: tuple[str, ...] = objects.DEFAULT_SCHEMES,
                            binary: Path | None = None, timeout_seconds: float = 120) -> TrainingOperator:
    """Start it and wait until /readyz answers: certificates accepted, webhook server serving."""
    binary = binary or ensure_training_operator()
    layout = _not_running(TRAINING_OPERATOR, directory)
    ports = objects.TrainingOperatorPorts(*_free_ports(3))
    # Per namespace: the certificate names the namespace.
    certs = ensure_webhook_certs(directory / "webhook-certs" / namespace, objects.service_dns_name(namespace))
    serving_dir = _serving_dir(layout, certs)
    plan = _network_of(directory)
    with Kube.connect(kubeconfig) as kube:
        ensure_namespace(kube, namespace)
        create_or_replace(kube, objects.webhook_secret(namespace, certs.secret_data()))
        _route_webhook_service(kube, plan, namespace, ports.webhook, layout)
        _apply_webhook_configuration(kube, namespace, certs, schemes)
    _ensure_rotator_file(certs)
    argv = objects.training_operator_argv(binary, kubeconfig, ports, schemes)
    env = {"KUBECONFIG": str(kubeconfig), "MY_POD_NAMESPACE": namespace, "TMPDIR": str(serving_dir)}
    pid = processes.start(TRAINING_OPERATOR, argv, layout, env=env)
    with _stopped_on_failure(TRAINING_OPERATOR, layout):
        processes.wait_healthy(TRAINING_OPERATOR, f"http://{LOOPBACK}:{ports.probes}/readyz", layout,
                               None, timeout_seconds)
    return TrainingOperator(TRAINING_OPERATOR, pid, layout.log_file(TRAINING_OPERATOR), namespace, ports,
                            schemes)


def restore_webhook_configuration(kubeconfig: Path, directory: Path, operator: TrainingOperator) -> None:
    """Point the webhook configuration at a running local operator again, for example after a
    chart release that had adopted the configuration was uninstalled and took it along."""
    certs = ensure_webhook_certs(directory / "webhook-certs" / operator.namespace,
                                 objects.service_dns_name(operator.namespace))
    with Kube.connect(kubeconfig) as kube:
        _apply_webhook_configuration(kube, operator.namespace, certs, operator.schemes)


def _apply_webhook_configuration(kube: Kube, namespace: str, certs: WebhookCerts,
                                 schemes: tuple[str, ...]) -> None:
    create_or_replace(kube, _keeping_owner(kube, objects.webhook_configuration(
        namespace, certs.ca_crt.read_bytes(), schemes)))


def _network_of(directory: Path) -> NetworkPlan:
    plan = netrules.find(directory)
    if plan is None:
        raise OperatorUnreachable(
            f"no network rules for the cluster in {directory}: the API server reaches a local webhook "
            "through the cluster's nftables table, which `hyperpod-deps cluster up` installs (run as "
            "root, without --allow-egress)")
    return plan


def _route_webhook_service(kube: Kube, plan: NetworkPlan, namespace: str, port: int,
                           layout: Layout) -> None:
    """The Service the webhooks name, and its ClusterIP routed to the operator's port."""
    service = kube.get(SERVICE, objects.TRAINING_OPERATOR_SERVICE, namespace)
    wanted = objects.service_to_create(service, namespace)
    if wanted is not None:
        service = kube.create(wanted)
    assert service is not None
    route = LocalRoute(str(service["spec"]["clusterIP"]), objects.WEBHOOK_SERVICE_PORT, port)
    netrules.add_route(plan, route)
    layout.run.mkdir(parents=True, exist_ok=True)
    _route_file(layout).write_text(json.dumps(vars(route)) + "\n")


def ensure_namespace(kube: Kube, name: str) -> None:
    """Create the namespace if it is absent; never replace one. The chart's umbrella may own
    `kubeflow`, and a replace would strip the Helm metadata that marks it as the release's."""
    if kube.get(NAMESPACE, name) is not None:
        return
    try:
        kube.create(objects.namespace(name))
    except RequestFailed as error:
        if error.status != 409:  # created in between: fine
            raise


def _keeping_owner(kube: Kube, manifest: Manifest) -> Manifest:
    """The manifest with the labels and annotations of the object it replaces. Where the chart
    installed the webhook configuration (the demo), Helm keeps owning it: its next upgrade puts
    the in-cluster Service back instead of refusing an object it no longer recognises."""
    rtype = kube.resource_type(manifest["apiVersion"], manifest["kind"])
    current = kube.get(rtype, manifest["metadata"]["name"]) if rtype is not None else None
    if current is None:
        return manifest
    kept = {key: value for key, value in (current.get("metadata") or {}).items()
            if key in ("labels", "annotations")}
    return {**manifest, "metadata": {**kept, **manifest["metadata"]}}


def start_mpi_operator(kubeconfig: Path, directory: Path, lock_namespace: str = "mpi-operator",
                       binary: Path | None = None, timeout_seconds: float = 120) -> RunningOperator:
    """Start it and wait until it holds its leader-election Lease (then it reconciles).

    Its health port is fixed, so one MPI operator runs on this machine at a time: the port's
    lock is handed to the process and is released when it exits, however it ends.
    """
    binary = binary or ensure_mpi_operator()
    layout = _not_running(MPI_OPERATOR, directory)
    with Kube.connect(kubeconfig) as kube:
        ensure_namespace(kube, lock_namespace)
        with hold_port(objects.MPI_OPERATOR_HEALTH_PORT, MPI_OPERATOR, timeout_seconds) as lock:
            pid = _start_holding(lock, binary, kubeconfig, lock_namespace, layout)
        with _stopped_on_failure(MPI_OPERATOR, layout):
            _wait_for_lease(kube, lock_namespace, layout, timeout_seconds)
    return RunningOperator(MPI_OPERATOR, pid, layout.log_file(MPI_OPERATOR))


def withdraw_loopback_webhook(kubeconfig: Path) -> bool:
    """Delete the webhook configuration that points at a local training operator, if one does.

    Without the process behind it, the webhook fails closed and every training job is refused;
    and Helm cannot upgrade it back to the in-cluster Service (its patch would leave both the URL
    and the Service set). Returns whether there was one to delete."""
    with Kube.connect(kubeconfig) as kube:
        rtype = kube.resource_type("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
        current = kube.get(rtype, objects.WEBHOOK_CONFIGURATION) if rtype is not None else None
        if rtype is None or current is None:
            return False
        if not any(objects.is_local_webhook(hook) for hook in current.get("webhooks") or []):
            return False
        return kube.delete(rtype, objects.WEBHOOK_CONFIGURATION, uid=current["metadata"]["uid"])


def stop(name: str, directory: Path) -> None:
    layout = _layout(directory)
    processes.stop(name, layout)
    if name == TRAINING_OPERATOR:
        _withdraw_route(layout)


def _withdraw_route(layout: Layout) -> None:
    """The operator's Service address is refused again, like every other address nothing serves."""
    recorded = _route_file(layout)
    try:
        route = LocalRoute(**json.loads(recorded.read_text()))
    except (OSError, ValueError, TypeError):
        return
    plan = netrules.find(layout.root)
    if plan is not None:
        netrules.remove_route(plan, route)
    recorded.unlink(missing_ok=True)


def _route_file(layout: Layout) -> Path:
    return layout.run / f"{TRAINING_OPERATOR}.route.json"


def stop_all(directory: Path) -> None:
    """Stop whichever of the two runs from this folder (nothing happens for the others)."""
    for name in (MPI_OPERATOR, TRAINING_OPERATOR):
        stop(name, directory)


def running(name: str, directory: Path) -> int | None:
    return processes.running_pid(name, _layout(directory))


@contextlib.contextmanager
def _stopped_on_failure(name: str, layout: Layout) -> Iterator[None]:
    """A process that never became ready is not left running (nor its Service routed)."""
    try:
        yield
    except BaseException:
        stop(name, layout.root)
        raise


def _start_holding(lock: PortLock, binary: Path, kubeconfig: Path, lock_namespace: str,
                   layout: Layout) -> int:
    argv = objects.mpi_operator_argv(binary, kubeconfig, lock_namespace)
    return processes.start(MPI_OPERATOR, argv, layout, env={"KUBECONFIG": str(kubeconfig)},
                           pass_fds=(lock.fd,))


def _wait_for_lease(kube: Kube, lock_namespace: str, layout: Layout, timeout_seconds: float) -> None:
    lease_type = kube.resource_type("coordination.k8s.io/v1", "Lease")
    assert lease_type is not None  # a built-in kind
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        processes.wait_healthy(MPI_OPERATOR, None, layout, None, timeout_seconds)  # still running?
        if objects.lease_holder(kube.get(lease_type, objects.MPI_OPERATOR_LEASE, lock_namespace)):
            return
        time.sleep(0.5)
    raise processes.ComponentFailed(
        f"{MPI_OPERATOR} did not acquire the Lease {lock_namespace}/{objects.MPI_OPERATOR_LEASE} in "
        f"{timeout_seconds:.0f}s.\n{processes.log_tail(MPI_OPERATOR, layout)}")


def _not_running(name: str, directory: Path) -> Layout:
    layout = _layout(directory)
    pid = processes.running_pid(name, layout)
    if pid is not None:
        raise OperatorAlreadyRunning(f"{name} already runs from {directory} (pid {pid}): stop it first")
    return layout


def _layout(directory: Path) -> Layout:
    return Layout(directory.name, directory)


def _free_ports(count: int) -> list[int]:
    chosen: list[int] = []
    while len(chosen) < count:
        port = processes.free_port()
        if port not in chosen:
            chosen.append(port)
    return chosen


def _serving_dir(layout: Layout, certs: WebhookCerts) -> Path:
    """A private TMPDIR whose k8s-webhook-server/serving-certs holds this cluster's certificate,
    where a pod would have the Secret mounted."""
    tmpdir = layout.run / "training-operator-tmp"
    serving = tmpdir / "k8s-webhook-server" / "serving-certs"
    serving.mkdir(parents=True, exist_ok=True)
    for source in (certs.tls_crt, certs.tls_key):
        (serving / source.name).write_bytes(source.read_bytes())
    return tmpdir


def _ensure_rotator_file(certs: WebhookCerts) -> None:
    """Shared by every local training operator on the machine; only its existence matters."""
    if not ROTATOR_CERT_FILE.exists():
        ROTATOR_CERT_FILE.parent.mkdir(parents=True, exist_ok=True)
        ROTATOR_CERT_FILE.write_bytes(certs.tls_crt.read_bytes())
