"""What the Kubeflow operators need to run as local processes (pure: settings in, argv and
manifests out). The flag names are those of training-operator v1.8.1 and mpi-operator v0.6.0.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.localcluster.netplan import LOOPBACK

# The chart's default `trainingOperators.schemes`. mpijob is never enabled: the MPI operator
# owns mpijobs.kubeflow.org (v2beta1), and the training operator's own MPIJob (v1) would fight it.
DEFAULT_SCHEMES = ("tfjob", "pytorchjob", "xgboostjob", "paddlejob")
# Compiled into the training operator (pkg/cert: vwcName): its cert rotator injects the CA
# into exactly this object.
WEBHOOK_CONFIGURATION = "validator.training-operator.kubeflow.org"
TRAINING_OPERATOR_SERVICE = "training-operator"
TRAINING_OPERATOR_SECRET = "training-operator-webhook-cert"
WEBHOOK_SERVICE_PORT = 443
LOCAL_WEBHOOK_PREFIX = "local."
# The MPI operator serves /healthz on this port on every interface; v0.6.0 has no flag for it.
MPI_OPERATOR_HEALTH_PORT = 8080
MPI_OPERATOR_LEASE = "mpi-operator"  # the leader-election Lease's name, also compiled in


class SchemeNotAllowed(ValueError):
    """mpijob (or an unknown kind) asked of the training operator."""


@dataclass(frozen=True)
class TrainingOperatorPorts:
    metrics: int
    probes: int
    webhook: int


def check_schemes(schemes: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in schemes if s not in DEFAULT_SCHEMES]
    if unknown or not schemes:
        raise SchemeNotAllowed(f"training operator schemes {list(schemes)}: choose from "
                               f"{list(DEFAULT_SCHEMES)} (MPIJob belongs to the MPI operator)")
    return schemes


def service_dns_name(namespace: str) -> str:
    """The name the operator's rotator requires in the serving certificate."""
    return f"{TRAINING_OPERATOR_SERVICE}.{namespace}.svc"


def training_operator_argv(binary: Path, kubeconfig: Path, ports: TrainingOperatorPorts,
                           schemes: tuple[str, ...]) -> list[str]:
    """Metrics and probes on loopback. The webhook server takes only a port (it listens on
    every interface): the operator has no flag for its address."""
    return [
        str(binary), f"--kubeconfig={kubeconfig}",
        f"--metrics-bind-address={LOOPBACK}:{ports.metrics}",
        f"--health-probe-bind-address={LOOPBACK}:{ports.probes}",
        f"--webhook-server-port={ports.webhook}",
        f"--webhook-service-name={TRAINING_OPERATOR_SERVICE}",
        f"--webhook-secret-name={TRAINING_OPERATOR_SECRET}",
        *(f"--enable-scheme={scheme}" for scheme in check_schemes(schemes)),
    ]


def mpi_operator_argv(binary: Path, kubeconfig: Path, lock_namespace: str) -> list[str]:
    # --monitoring-port=0: no metrics server (it would listen on every interface too).
    return [str(binary), f"--kubeConfig={kubeconfig}", f"--lock-namespace={lock_namespace}",
            "--monitoring-port=0", "-alsologtostderr"]


def namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def webhook_secret(namespace_name: str, data: dict[str, bytes]) -> Manifest:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": TRAINING_OPERATOR_SECRET, "namespace": namespace_name},
            "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()}}


def webhook_service(namespace_name: str) -> Manifest:
    """The Service the webhooks name. No selector: nothing in the cluster backs it; the local
    cluster's network rules send its ClusterIP to the operator's port on loopback."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": TRAINING_OPERATOR_SERVICE, "namespace": namespace_name},
            "spec": {"type": "ClusterIP",
                     "ports": [{"name": "webhook", "port": WEBHOOK_SERVICE_PORT, "protocol": "TCP"}]}}


class ServiceWithoutWebhookPort(ValueError):
    """The Service named training-operator exists but has no port 443 for the webhook."""


def service_to_create(existing: Manifest | None, namespace_name: str) -> Manifest | None:
    """The Service to create for the local webhook, or None to use the one there.

    One that exists is used as it is, whoever owns it: the chart's (same name, same namespace
    `kubeflow`) or ours from an earlier start. Only its ClusterIP matters, which the local
    network rules route to the process; replacing it would take it from the chart's release,
    and the chart in turn leaves a Service it does not own alone (its `hyperpod-common.ours`
    guard), so neither side fights the other for it."""
    if existing is None:
        return webhook_service(namespace_name)
    ports = ((existing.get("spec") or {}).get("ports")) or []
    if not any(port.get("port") == WEBHOOK_SERVICE_PORT for port in ports):
        raise ServiceWithoutWebhookPort(
            f"Service {namespace_name}/{TRAINING_OPERATOR_SERVICE} exists without port "
            f"{WEBHOOK_SERVICE_PORT}, through which the API server calls the webhook (a chart release with "
            "trainingOperators.webhook.enabled=false?): enable the chart's webhook, or run the local "
            "operator in another namespace")
    return None


def webhook_configuration(namespace_name: str, ca_pem: bytes, schemes: tuple[str, ...]) -> Manifest:
    """The chart's webhooks (one per enabled kind, same paths and rules) calling the local
    operator's Service, as the chart's call its in-cluster one: the API server dials the
    Service's ClusterIP, which the cluster's rules route to the process on loopback.

    Their names differ from the chart's: when a chart install adopts this object, Helm 3 merges
    the chart's webhooks into it by name, and would point ours at the chart's Service (which
    nothing serves); under other names both sets coexist until the release removes the object."""
    bundle = base64.b64encode(ca_pem).decode("ascii")
    webhooks = [{
        "name": local_webhook_name(scheme),
        "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
        "clientConfig": {"service": {"name": TRAINING_OPERATOR_SERVICE, "namespace": namespace_name,
                                     "port": WEBHOOK_SERVICE_PORT,
                                     "path": f"/validate-kubeflow-org-v1-{scheme}"},
                         "caBundle": bundle},
        "rules": [{"apiGroups": ["kubeflow.org"], "apiVersions": ["v1"],
                   "operations": ["CREATE", "UPDATE"], "resources": [f"{scheme}s"],
                   "scope": "Namespaced"}],
    } for scheme in check_schemes(schemes)]
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_CONFIGURATION}, "webhooks": webhooks}


def is_local_webhook(webhook: Manifest) -> bool:
    return str(webhook.get("name", "")).startswith(LOCAL_WEBHOOK_PREFIX)


def local_webhook_name(scheme: str) -> str:
    return f"{LOCAL_WEBHOOK_PREFIX}{scheme}.training-operator.kubeflow.org"


def lease_holder(lease: Manifest | None) -> str | None:
    """Who holds a leader-election Lease, if anyone."""
    if lease is None:
        return None
    holder = (lease.get("spec") or {}).get("holderIdentity")
    return str(holder) if holder else None
