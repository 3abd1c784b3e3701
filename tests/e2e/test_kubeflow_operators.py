"""The real Kubeflow training operator (v1.8.1) and MPI operator (v0.6.0), built from their Go
modules, against the local control plane with the chart's CRDs: pods made by the operators,
placed by the real scheduler on simulated nodes, reported Running by kwok."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hyperpod_deps.localcluster import operators
from hyperpod_deps.localcluster.cluster import ClusterStatus
from hyperpod_deps.localcluster.operators import RunningOperator, TrainingOperator
from tests.support.kube_support import ApiObject, Kube
from tests.support.kubeflow_support import (
    condition_status,
    job_pods,
    mpijob,
    phases_by_role,
    pytorchjob,
    role,
)
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e

JOB_TIMEOUT_SECONDS = 90


def _running_pytorchjob(kube: Kube, name: str, namespace: str) -> list[ApiObject]:
    """Create the job; return its pods once the master and both workers run and the job says so."""
    kube.create(pytorchjob(name, namespace))
    pods = poll(lambda: job_pods(kube, name, namespace),
                lambda pods: phases_by_role(pods) == {"master": ["Running"], "worker": ["Running"] * 2},
                f"PyTorchJob {namespace}/{name}: a Running master and 2 Running workers",
                JOB_TIMEOUT_SECONDS)
    poll(lambda: kube.get("pytorchjob", name, namespace),
         lambda job: job is not None and condition_status(job, "Running") == "True",
         f"PyTorchJob {namespace}/{name} to have the Running condition", JOB_TIMEOUT_SECONDS)
    return pods


def test_pytorchjob_pods_are_made_scheduled_and_running(
        training_operator: TrainingOperator, kube: Kube, fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("kubeflow-e2e-pytorch")
    pods = _running_pytorchjob(kube, "resnet", namespace)

    assert sorted(p["metadata"]["name"] for p in pods) == ["resnet-master-0", "resnet-worker-0",
                                                            "resnet-worker-1"]
    owners = {ref["kind"] + "/" + ref["name"] for p in pods for ref in p["metadata"]["ownerReferences"]}
    assert owners == {"PyTorchJob/resnet"}
    simulated = {n["metadata"]["name"] for n in kube.cluster_items("nodes", "type=kwok")}
    assert {p["spec"].get("nodeName") for p in pods} <= simulated
    scheduled = kube.items("events", namespace, None)
    assert {e["involvedObject"]["name"] for e in scheduled
            if e.get("reason") == "Scheduled"} == {p["metadata"]["name"] for p in pods}
    env = {v["name"]: v.get("value") for v in pods[0]["spec"]["containers"][0].get("env", [])}
    assert env.get("WORLD_SIZE") == "3", "the operator's own PyTorch environment is missing"


def test_a_deleted_worker_pod_is_recreated(
        training_operator: TrainingOperator, kube: Kube, fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("kubeflow-e2e-recreate")
    pods = _running_pytorchjob(kube, "bert", namespace)
    victim = next(p for p in pods if p["metadata"]["name"] == "bert-worker-1")

    kube.run("delete", "pod", "bert-worker-1", "--namespace", namespace, "--wait=false")

    poll(lambda: kube.get("pod", "bert-worker-1", namespace),
         lambda pod: pod is not None and pod["metadata"]["uid"] != victim["metadata"]["uid"]
         and pod["status"].get("phase") == "Running",
         "bert-worker-1 to be recreated by the operator and Running", JOB_TIMEOUT_SECONDS)
    job = kube.get("pytorchjob", "bert", namespace)
    assert job is not None and condition_status(job, "Running") == "True"


def test_kubectl_scale_adds_a_worker_through_the_scale_subresource(
        training_operator: TrainingOperator, kube: Kube, fresh_namespace: Callable[[str], str]) -> None:
    """Upstream's PyTorchJob CRD has a scale subresource on its Worker replicas (used by
    `kubectl scale` and by the HorizontalPodAutoscaler the operator makes for elastic jobs)."""
    namespace = fresh_namespace("kubeflow-e2e-scale")
    _running_pytorchjob(kube, "gpt", namespace)

    kube.run("scale", "pytorchjob", "gpt", "--replicas=3", "--namespace", namespace)

    pods = poll(lambda: job_pods(kube, "gpt", namespace),
                lambda pods: phases_by_role(pods).get("worker") == ["Running"] * 3,
                "a third Running worker after the scale", JOB_TIMEOUT_SECONDS)
    assert "gpt-worker-2" in {p["metadata"]["name"] for p in pods}
    scale = json.loads(kube.run("get", "--raw", f"/apis/kubeflow.org/v1/namespaces/{namespace}"
                                "/pytorchjobs/gpt/scale").stdout)
    assert scale["spec"]["replicas"] == 3
    assert scale["status"]["selector"] == ("training.kubeflow.org/job-name=gpt,training.kubeflow.org/"
                                           "operator-name=pytorchjob-controller,"
                                           "training.kubeflow.org/replica-type=worker")


def test_the_webhook_on_loopback_rejects_an_invalid_job(
        loopback_webhook: TrainingOperator, kube: Kube, fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("kubeflow-e2e-webhook")
    invalid = pytorchjob("no-pytorch-container", namespace, container="trainer")

    refused = kube.run("create", "-f", "-", stdin=json.dumps(invalid), check=False)

    assert refused.returncode != 0
    assert 'admission webhook "local.pytorchjob.training-operator.kubeflow.org" denied' in refused.stderr
    assert kube.get("pytorchjob", "no-pytorch-container", namespace) is None
    # The rotator accepted the certificates we made (it did not make its own, which the
    # webhook server, reading ours, would not serve).
    log = loopback_webhook.log.read_text()
    assert "no cert refresh needed" in log and "refreshing CA and server certs" not in log


def test_a_job_in_a_hyperpod_namespace_runs(
        training_operator: TrainingOperator, kube: Kube, fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("hyperpod-ns-e2e-team")
    pods = _running_pytorchjob(kube, "llama", namespace)
    assert {p["metadata"]["namespace"] for p in pods} == {namespace}


def test_mpijob_launcher_and_workers(mpi_operator: RunningOperator, kube: Kube,
                                     fresh_namespace: Callable[[str], str]) -> None:
    """kwok completes a Job's pod as soon as it runs, so the launcher (a batch Job's pod since
    MPIJob v2beta1) ends Succeeded within a second, and with it the MPIJob."""
    namespace = fresh_namespace("kubeflow-e2e-mpi")
    kube.create(mpijob("allreduce", namespace))

    pods = poll(lambda: job_pods(kube, "allreduce", namespace),
                lambda pods: phases_by_role(pods).get("worker") == ["Running", "Running"]
                and phases_by_role(pods).get("launcher", [""])[0] in ("Running", "Succeeded"),
                "2 Running workers and a launcher that ran", JOB_TIMEOUT_SECONDS)
    launcher = next(p for p in pods if role(p) == "launcher")
    assert [ref["kind"] for ref in launcher["metadata"]["ownerReferences"]] == ["Job"]
    launcher_job = kube.get("job", launcher["metadata"]["ownerReferences"][0]["name"], namespace)
    assert launcher_job is not None
    assert [r["kind"] for r in launcher_job["metadata"]["ownerReferences"]] == ["MPIJob"]
    for made in ("configmap/allreduce-config", "secret/allreduce-ssh", "service/allreduce"):
        kind, name = made.split("/")
        assert kube.get(kind, name, namespace) is not None, f"the MPI operator made no {made}"
    job = poll(lambda: kube.get("mpijob", "allreduce", namespace),
               lambda job: job is not None and condition_status(job, "Succeeded") == "True",
               "the MPIJob to succeed once its launcher completed", JOB_TIMEOUT_SECONDS)
    assert job is not None and condition_status(job, "Created") == "True"
    assert job["status"]["replicaStatuses"]["Launcher"] == {"succeeded": 1}


def test_the_training_operator_leaves_mpijobs_to_the_mpi_operator(
        training_operator: TrainingOperator, mpi_operator: RunningOperator, kube: Kube,
        fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("kubeflow-e2e-mpi-owner")
    kube.create(mpijob("owned", namespace))
    poll(lambda: job_pods(kube, "owned", namespace),
         lambda pods: phases_by_role(pods).get("worker") == ["Running", "Running"],
         "the MPIJob's 2 workers Running", JOB_TIMEOUT_SECONDS)

    pods = job_pods(kube, "owned", namespace)
    assert {p["metadata"]["labels"]["training.kubeflow.org/operator-name"] for p in pods} == {"mpi-operator"}
    reporters = {e["source"].get("component") for e in kube.items("events", namespace)
                 if e["involvedObject"]["kind"] == "MPIJob"}
    assert reporters == {"mpi-job-controller"}
    log = training_operator.log.read_text()
    assert '"controller": "pytorchjob-controller"' in log
    assert "mpijob" not in log.lower()
    assert "mpijob" not in training_operator.schemes


def test_a_second_operator_from_the_same_folder_is_refused(
        training_operator: TrainingOperator, mpi_operator: RunningOperator,
        local_cluster: ClusterStatus) -> None:
    assert local_cluster.kubeconfig is not None
    kubeconfig, folder = Path(local_cluster.kubeconfig), local_cluster.state_dir
    with pytest.raises(operators.OperatorAlreadyRunning, match=f"pid {training_operator.pid}"):
        operators.start_training_operator(kubeconfig, folder)
    with pytest.raises(operators.OperatorAlreadyRunning, match=f"pid {mpi_operator.pid}"):
        operators.start_mpi_operator(kubeconfig, folder)
    assert operators.running(operators.TRAINING_OPERATOR, folder) == training_operator.pid
