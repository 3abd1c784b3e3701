"""The training-job kinds auto-restart understands, and how to find a job's pods.

Every kind is restarted the same way (its pods are deleted and its operator recreates them), so
the kinds differ only in where they live in the API and which field holds their replica specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Both operators label every pod they create with the job's name (kubeflow/common's JobNameLabel).
# It narrows the pod watch; ownership is still decided by ownerReferences.
JOB_NAME_LABEL = "training.kubeflow.org/job-name"
GROUP = "kubeflow.org"


@dataclass(frozen=True)
class JobKind:
    kind: str
    api_version: str
    plural: str
    replica_specs_field: str
    operator: str

    @property
    def resource(self) -> str:
        """The RBAC resource name, e.g. pytorchjobs."""
        return self.plural


KINDS: tuple[JobKind, ...] = (
    JobKind("PyTorchJob", "kubeflow.org/v1", "pytorchjobs", "pytorchReplicaSpecs", "training-operator"),
    JobKind("MPIJob", "kubeflow.org/v2beta1", "mpijobs", "mpiReplicaSpecs", "mpi-operator"),
    JobKind("TFJob", "kubeflow.org/v1", "tfjobs", "tfReplicaSpecs", "training-operator"),
    JobKind("XGBoostJob", "kubeflow.org/v1", "xgboostjobs", "xgbReplicaSpecs", "training-operator"),
    JobKind("PaddleJob", "kubeflow.org/v1", "paddlejobs", "paddleReplicaSpecs", "training-operator"),
)
BY_KIND: dict[str, JobKind] = {k.kind: k for k in KINDS}
KIND_NAMES: tuple[str, ...] = tuple(k.kind for k in KINDS)


def lookup(api_version: str, kind: str) -> JobKind | None:
    """The kind when this exact apiVersion serves it (MPIJob kubeflow.org/v1 is not ours)."""
    found = BY_KIND.get(kind)
    return found if found is not None and found.api_version == api_version else None


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controlling owner, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            uid = ref.get("uid")
            return str(uid) if uid else None
    return None


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


def is_intermediate_owner(ref: Mapping[str, Any]) -> bool:
    """The MPI operator runs its launcher as a batch Job: the launcher pod's controller is that
    Job, whose own controller is the MPIJob."""
    return ref.get("kind") == "Job" and str(ref.get("apiVersion", "")).startswith("batch/")
