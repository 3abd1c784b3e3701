"""The Kubeflow job APIs the chart's CRDs describe, as structural schemas.

Field names, types and allowed values are those of the published APIs:
- the training operator v1.8 (group kubeflow.org, version v1): PyTorchJob,
  TFJob, XGBoostJob, PaddleJob. Not its MPIJob v1: the chart runs the MPI
  operator for MPIJob, and two owners of mpijobs.kubeflow.org would fight;
- the MPI operator v0.6 (kubeflow.org/v2beta1): MPIJob.
Descriptions are short and our own; the pod template is Kubernetes' own
PodTemplateSpec (crds_k8s.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crds_k8s import definition, embedded_object_meta, quantity

Schema = dict[str, Any]

GROUP = "kubeflow.org"
RESTART_POLICIES = ["Always", "OnFailure", "Never", "ExitCode"]


def described(schema: Schema, description: str) -> Schema:
    return {"description": description, **schema}


def integer(description: str, fmt: str = "int32", minimum: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "format": fmt}
    if minimum is not None:
        schema["minimum"] = minimum
    return described(schema, description)


def string(description: str, enum: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return described(schema, description)


def boolean(description: str) -> Schema:
    return described({"type": "boolean"}, description)


def timestamp(description: str) -> Schema:
    return described({"type": "string", "format": "date-time"}, description)


def scheduling_policy() -> Schema:
    return described(
        {
            "type": "object",
            "properties": {
                "minAvailable": integer("Pods that must be schedulable together (gang size)."),
                "minResources": described(
                    {"type": "object", "additionalProperties": quantity()},
                    "Resources the gang needs before any pod starts.",
                ),
                "priorityClass": string("PriorityClass of the job's PodGroup."),
                "queue": string("Scheduler queue of the job's PodGroup (Volcano)."),
                "scheduleTimeoutSeconds": integer(
                    "How long the gang may wait to be scheduled (scheduler-plugins)."
                ),
            },
        },
        "Gang-scheduling settings, used when the operator runs with a gang scheduler.",
    )


def run_policy(managed_by: list[str] | None = None) -> Schema:
    properties: Schema = {
        "activeDeadlineSeconds": integer(
            "Seconds the job may run before it is failed.", fmt="int64", minimum=0
        ),
        "backoffLimit": integer("Retries before the job is marked failed.", minimum=0),
        "cleanPodPolicy": string("Which pods to delete when the job ends.", enum=["All", "Running", "None"]),
        "schedulingPolicy": scheduling_policy(),
        "suspend": boolean("True stops the job's pods; false (the default) runs them."),
        "ttlSecondsAfterFinished": integer("Seconds after the job ends before it is deleted.", minimum=0),
    }
    if managed_by:
        properties["managedBy"] = string(
            "The controller that reconciles the job; empty means this operator.",
            enum=managed_by,
        )
    return described({"type": "object", "properties": properties}, "How the job runs and ends.")


def pod_template() -> Schema:
    template = definition("io.k8s.api.core.v1.PodTemplateSpec")
    template["properties"]["metadata"] = embedded_object_meta()
    return described(template, "The pod each replica of this type runs.")


def replica_spec() -> Schema:
    return described(
        {
            "type": "object",
            "properties": {
                "replicas": integer("Number of pods of this type (default 1).", minimum=0),
                "restartPolicy": string(
                    "When the operator restarts a failed pod of this type; ExitCode "
                    "restarts on retryable exit codes (128 and up) only.",
                    enum=RESTART_POLICIES,
                ),
                "template": pod_template(),
            },
        },
        "Replicas of one type.",
    )


def replica_specs(replica_types: list[str]) -> Schema:
    """Replica specs keyed by replica type.

    The upstream APIs accept only these types; listing them as properties (and
    not as additionalProperties) makes the API server reject any other key
    under strict field validation, the kubectl default, instead of the
    operator failing the job later.
    """
    spec = replica_spec()
    return described(
        {"type": "object", "properties": {name: spec for name in replica_types}},
        f"The job's replicas by type: {', '.join(replica_types)}.",
    )


def label_selector() -> Schema:
    selector = definition("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")
    selector["x-kubernetes-map-type"] = "atomic"
    return selector


def job_status() -> Schema:
    condition = {
        "type": "object",
        "required": ["status", "type"],
        "properties": {
            "lastTransitionTime": timestamp("When the condition last changed status."),
            "lastUpdateTime": timestamp("When the condition was last updated."),
            "message": string("Human-readable details."),
            "reason": string("Machine-readable reason for the last transition."),
            "status": string("Condition status.", enum=["True", "False", "Unknown"]),
            "type": string("Condition type: Created, Running, Restarting, Succeeded, Suspended or Failed."),
        },
    }
    replica_status = {
        "type": "object",
        "properties": {
            "active": integer("Running pods."),
            "failed": integer("Failed pods."),
            "labelSelector": label_selector(),
            "selector": string("Label selector of this type's pods, in string form."),
            "succeeded": integer("Succeeded pods."),
        },
    }
    return described(
        {
            "type": "object",
            "properties": {
                "completionTime": timestamp("When the job finished."),
                "conditions": described(
                    {
                        "type": "array",
                        "items": condition,
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["type"],
                    },
                    "The job's conditions; the last one is its current state.",
                ),
                "lastReconcileTime": timestamp("When the operator last reconciled the job."),
                "replicaStatuses": described(
                    {"type": "object", "additionalProperties": replica_status},
                    "Pod counts by replica type.",
                ),
                "startTime": timestamp("When the operator first saw the job."),
            },
        },
        "Observed state, written by the operator.",
    )


def pytorch_elastic_policy() -> Schema:
    return described(
        {
            "type": "object",
            "properties": {
                "maxReplicas": integer("Upper bound of worker replicas."),
                "maxRestarts": integer("Worker-group restarts torchrun allows."),
                "metrics": described(
                    {"type": "array", "items": definition("io.k8s.api.autoscaling.v2.MetricSpec")},
                    "Metrics of the HorizontalPodAutoscaler that scales workers.",
                ),
                "minReplicas": integer("Lower bound of worker replicas."),
                "nProcPerNode": integer("Deprecated: use spec.nprocPerNode."),
                "rdzvBackend": string("Rendezvous backend.", enum=["c10d", "etcd", "etcd-v2"]),
                "rdzvConf": described(
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
                        },
                    },
                    "Extra rendezvous settings (key/value).",
                ),
                "rdzvHost": string("Rendezvous host."),
                "rdzvId": string("Rendezvous id."),
                "rdzvPort": integer("Rendezvous port."),
                "standalone": boolean("Start a local rendezvous backend (torchrun --standalone)."),
            },
        },
        "Elastic training with torchrun.",
    )


def paddle_elastic_policy() -> Schema:
    return described(
        {
            "type": "object",
            "properties": {
                "maxReplicas": integer("Upper bound of worker replicas."),
                "maxRestarts": integer("Restarts allowed."),
                "metrics": described(
                    {"type": "array", "items": definition("io.k8s.api.autoscaling.v2.MetricSpec")},
                    "Metrics of the HorizontalPodAutoscaler that scales workers.",
                ),
                "minReplicas": integer("Lower bound of worker replicas."),
            },
        },
        "Elastic training.",
    )


@dataclass(frozen=True)
class Kind:
    kind: str
    version: str
    replicas_field: str
    replica_types: list[str]
    extra_spec: dict[str, Schema]
    managed_by: list[str] | None = None
    # The replica type behind the scale subresource, as upstream's CRD has it for the elastic
    # kinds: `kubectl scale` and the HorizontalPodAutoscaler the operator makes for an
    # elasticPolicy with metrics resize that replica type through it.
    scale_replica_type: str | None = None

    @property
    def plural(self) -> str:
        return self.kind.lower() + "s"

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"

    def spec_schema(self) -> Schema:
        properties: Schema = {
            "runPolicy": run_policy(self.managed_by),
            self.replicas_field: replica_specs(self.replica_types),
            **self.extra_spec,
        }
        return described(
            {
                "type": "object",
                "required": [self.replicas_field],
                "properties": dict(sorted(properties.items())),
            },
            f"The desired state of the {self.kind}.",
        )

    def subresources(self) -> Schema:
        if self.scale_replica_type is None:
            return {"status": {}}
        replica = self.scale_replica_type
        return {
            "status": {},
            "scale": {
                "specReplicasPath": f".spec.{self.replicas_field}.{replica}.replicas",
                "statusReplicasPath": f".status.replicaStatuses.{replica}.active",
                "labelSelectorPath": f".status.replicaStatuses.{replica}.selector",
            },
        }

    def crd_spec(self) -> Schema:
        """The CustomResourceDefinition's .spec."""
        schema = {
            "type": "object",
            "description": f"{self.kind}: a distributed training job.",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": self.spec_schema(),
                "status": job_status(),
            },
        }
        return {
            "group": GROUP,
            "names": {
                "kind": self.kind,
                "listKind": f"{self.kind}List",
                "plural": self.plural,
                "singular": self.kind.lower(),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": self.version,
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": [
                        {
                            "name": "State",
                            "type": "string",
                            "jsonPath": ".status.conditions[-1:].type",
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "subresources": self.subresources(),
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        }


TRAINING_OPERATOR_KINDS = [
    Kind(
        kind="PyTorchJob",
        version="v1",
        replicas_field="pytorchReplicaSpecs",
        replica_types=["Master", "Worker"],
        extra_spec={
            "elasticPolicy": pytorch_elastic_policy(),
            "nprocPerNode": string(
                "Processes per pod: a number, or auto, cpu or gpu (torchrun --nproc-per-node)."
            ),
        },
        scale_replica_type="Worker",
    ),
    Kind(
        kind="TFJob",
        version="v1",
        replicas_field="tfReplicaSpecs",
        replica_types=["Chief", "PS", "Worker", "Evaluator", "Master"],
        extra_spec={
            "enableDynamicWorker": boolean("Let workers join and leave (TF parameter-server mode)."),
            "successPolicy": string(
                "When the job succeeds: empty (chief or worker 0 succeeds) or AllWorkers.",
                enum=["", "AllWorkers"],
            ),
        },
    ),
    Kind(
        kind="XGBoostJob",
        version="v1",
        replicas_field="xgbReplicaSpecs",
        replica_types=["Master", "Worker"],
        extra_spec={},
    ),
    Kind(
        kind="PaddleJob",
        version="v1",
        replicas_field="paddleReplicaSpecs",
        replica_types=["Master", "Worker"],
        extra_spec={"elasticPolicy": paddle_elastic_policy()},
        scale_replica_type="Worker",
    ),
]

MPI_OPERATOR_KINDS = [
    Kind(
        kind="MPIJob",
        version="v2beta1",
        replicas_field="mpiReplicaSpecs",
        replica_types=["Launcher", "Worker"],
        managed_by=["kubeflow.org/mpi-operator", "kueue.x-k8s.io/multikueue"],
        extra_spec={
            "launcherCreationPolicy": string(
                "When the launcher starts: AtStartup (default) or once the workers are ready.",
                enum=["AtStartup", "WaitForWorkersReady"],
            ),
            "mpiImplementation": string(
                "MPI implementation the launcher runs (default OpenMPI).",
                enum=["OpenMPI", "Intel", "MPICH"],
            ),
            "runLauncherAsWorker": boolean("Also count the launcher as a worker in the hostfile."),
            "slotsPerWorker": integer("Slots per worker in the hostfile (default 1).", minimum=1),
            "sshAuthMountPath": string("Where the SSH keys are mounted (default /root/.ssh)."),
        },
    ),
]
