"""The chart's Kubeflow CRDs and the real operators on the local cluster, for e2e tests.

The CRDs are rendered from the chart by the real helm (the templates that wrap the generated
`files/crds/`), never written here. The objects we put in the cluster for the operators (CRDs,
the training operator's ValidatingWebhookConfiguration, whose name is compiled into the
operator and equals the chart's) carry the Helm ownership metadata of the documented release,
so a later `helm install dependencies ... --namespace kube-system` in the same test session
adopts them instead of failing on "exists and cannot be imported into the current release".
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hyperpod_deps.chart.render import RenderRequest, render
from hyperpod_deps.localcluster.operator_objects import WEBHOOK_CONFIGURATION
from tests.support.charts import CHART
from tests.support.helm_support import NAMESPACE, RELEASE
from tests.support.kube_support import ApiObject, Kube
from tests.support.waiting import poll

CRD_TEMPLATES = ("charts/trainingOperators/templates/crds.yaml", "charts/mpi-operator/templates/crds.yaml")
TRAINING_CRDS = ("paddlejobs.kubeflow.org", "pytorchjobs.kubeflow.org", "tfjobs.kubeflow.org",
                 "xgboostjobs.kubeflow.org")
MPI_CRD = "mpijobs.kubeflow.org"
# Where the fixtures run the operators: the training operator's webhook Secret, the MPI
# operator's leader-election Lease. Not "kubeflow": other e2e tests create and delete that one.
TRAINING_OPERATOR_NAMESPACE = "e2e-training-operator"
MPI_LOCK_NAMESPACE = "e2e-mpi-operator"
SMALL = {"requests": {"cpu": "100m", "memory": "64Mi"}}


def chart_crds(helm: Path) -> list[ApiObject]:
    """The Kubeflow CRDs exactly as the chart renders them with its defaults."""
    extra = tuple(arg for template in CRD_TEMPLATES for arg in ("--show-only", template))
    rendered = render(helm, RenderRequest(chart=CHART, release=RELEASE, namespace=NAMESPACE,
                                          extra_args=extra))
    return [adoptable(crd) for crd in rendered]


def adoptable(obj: ApiObject) -> ApiObject:
    """The object with the ownership metadata Helm checks before adopting an existing object."""
    metadata = obj.setdefault("metadata", {})
    metadata.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
    metadata.setdefault("annotations", {}).update(
        {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE})
    return obj


def apply_crds(kube: Kube, crds: list[ApiObject]) -> list[str]:
    """Server-side apply (a client-side apply's annotation would not fit the larger CRDs)."""
    kube.run("apply", "--server-side", "--force-conflicts", "--field-manager=hyperpod-deps-e2e",
             "-f", "-", stdin="\n".join(json.dumps(crd) for crd in crds))
    names = [crd["metadata"]["name"] for crd in crds]
    poll(lambda: [n for n in names if not established(kube.get("customresourcedefinition", n))],
         lambda pending: not pending, f"CRDs {names} to be Established")
    return names


def established(crd: ApiObject | None) -> bool:
    return crd is not None and condition_status(crd, "Established") == "True"


def make_webhook_adoptable(kube: Kube) -> None:
    found = kube.get("validatingwebhookconfiguration", WEBHOOK_CONFIGURATION)
    assert found is not None, "the training operator's webhook configuration is missing"
    kube.run("apply", "--server-side", "--field-manager=hyperpod-deps-e2e", "-f", "-",
             stdin=json.dumps(adoptable({"apiVersion": found["apiVersion"], "kind": found["kind"],
                                         "metadata": {"name": WEBHOOK_CONFIGURATION}})))


def condition_status(obj: ApiObject, kind: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _container(name: str, image: str) -> dict[str, Any]:
    return {"name": name, "image": image, "resources": SMALL}


def _replica(replicas: int, container: str, image: str, restart: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": replicas,
                            "template": {"spec": {"containers": [_container(container, image)]}}}
    if restart:
        spec["restartPolicy"] = restart
    return spec


def pytorchjob(name: str, namespace: str, workers: int = 2, container: str = "pytorch") -> ApiObject:
    """A Master and `workers` Workers, restartPolicy OnFailure, small requests.

    The image is never pulled: kwok plays the kubelet."""
    image = "registry.invalid/train:1"
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"pytorchReplicaSpecs": {
                "Master": _replica(1, container, image, "OnFailure"),
                "Worker": _replica(workers, container, image, "OnFailure")}}}


def mpijob(name: str, namespace: str, workers: int = 2) -> ApiObject:
    image = "registry.invalid/mpi:1"
    return {"apiVersion": "kubeflow.org/v2beta1", "kind": "MPIJob",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"slotsPerWorker": 1,
                     # The launcher waits for the workers, as a real MPI program would need.
                     "launcherCreationPolicy": "WaitForWorkersReady",
                     "mpiReplicaSpecs": {"Launcher": _replica(1, "launcher", image),
                                         "Worker": _replica(workers, "worker", image)}}}


def job_pods(kube: Kube, job: str, namespace: str) -> list[ApiObject]:
    """The pods both operators label with training.kubeflow.org/job-name."""
    return kube.items("pods", namespace, f"training.kubeflow.org/job-name={job}")


# The training operator labels a pod's role with replica-type, the MPI operator with job-role.
ROLE_LABELS = ("training.kubeflow.org/replica-type", "training.kubeflow.org/job-role")


def role(pod: ApiObject) -> str:
    labels = pod["metadata"].get("labels") or {}
    return next((str(labels[key]) for key in ROLE_LABELS if key in labels), "")


def phases_by_role(pods: list[ApiObject]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pod in pods:
        found.setdefault(role(pod), []).append(pod.get("status", {}).get("phase", ""))
    return {key: sorted(value) for key, value in found.items()}
