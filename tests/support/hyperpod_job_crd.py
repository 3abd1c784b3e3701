"""The HyperPodPyTorchJob CRD (sagemaker.amazonaws.com/v1), as HyperPod's training operator
add-on installs it, for the tests that run AWS's own client against the local cluster.

No public manifest of the CRD exists; its shape is derived from the client that writes the
objects: the pydantic models `_HyperPodPytorchJob` (spec) and `HyperPodPytorchJobStatus`
(status) in `sagemaker.hyperpod.training.config.hyperpod_pytorch_job_unified_config` of
sagemaker-hyperpod 3.12.0 (the fields and their types below are those models' wire names).
The pod template is kept as the client sends it (a full PodTemplateSpec needs no second
check here), and status, which only the operator writes, is a subresource as in every
operator-served job kind: the client reads it through the object.
"""
from __future__ import annotations

from typing import Any

GROUP = "sagemaker.amazonaws.com"
PLURAL = "hyperpodpytorchjobs"
NAME = f"{PLURAL}.{GROUP}"

_INT: dict[str, Any] = {"type": "integer"}
_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


REPLICA_SPEC = {**_object(name={"type": "string"}, replicas=_INT, maxReplicas=_INT, spares=_INT,
                          template=_OPEN), "required": ["name"]}
RESTART_POLICY = _object(evalPeriodSeconds=_INT, maxFullJobRestarts=_INT, numRestartBeforeFullJobRestart=_INT,
                         maxNumRepeatOffendersToAvoid=_INT, scaleUpSnoozeTimeInSeconds=_INT)
RUN_POLICY = _object(
    activeDeadlineSeconds=_INT, cleanPodPolicy={"type": "string"}, faultDeadlineSeconds=_INT,
    jobMaxRetryCount=_INT, logMonitoringConfiguration={"type": "array", "items": _OPEN},
    restartPolicy=RESTART_POLICY, startupDeadlineSeconds=_INT, suspend={"type": "boolean"},
    ttlSecondsAfterFinished=_INT, workloadMode={"type": "string"})
ELASTIC_POLICY = _object(minReplicas=_INT, maxReplicas=_INT, replicaIncrementStep=_INT,
                         replicaDiscreteValues={"type": "array", "items": _INT}, scalingTimeoutInSeconds=_INT,
                         gracefulShutdownTimeoutInSeconds=_INT, faultyScaleDownTimeoutInSeconds=_INT)
SPEC = _object(nprocPerNode={"type": "string"}, replicaSpecs={"type": "array", "items": REPLICA_SPEC},
               runPolicy=RUN_POLICY, elasticPolicy=ELASTIC_POLICY)

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": NAME},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "hyperpodpytorchjob", "kind": "HyperPodPyTorchJob",
                  "listKind": "HyperPodPyTorchJobList", "shortNames": ["hyperpodjob", "hpj"]},
        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": _object(
                          apiVersion={"type": "string"}, kind={"type": "string"}, metadata={"type": "object"},
                          spec=SPEC, status=_OPEN)}}],
    },
}
