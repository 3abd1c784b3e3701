"""validation.check: each problem, with the field it names and the fix it gives."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps.autorestart import validation
from hyperpod_deps.autorestart.validation import Severity, blocking, check, max_retry_count, opted_in
from hyperpod_deps.core import wire

JOBS = Path(__file__).resolve().parents[2] / "data" / "jobs"
SCHEDULABLE_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": wire.NODE_HEALTH_LABEL, "operator": "In", "values": ["Schedulable"]}
                    ]
                }
            ]
        }
    }
}


def job(**annotations: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {
            "name": "j",
            "namespace": "kubeflow",
            "annotations": {
                wire.AUTO_RESUME_ANNOTATION: "true",
                wire.MAX_RETRY_ANNOTATION: "2",
                **annotations,
            },
        },
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": {
                    "restartPolicy": "OnFailure",
                    "template": {"spec": {"affinity": SCHEDULABLE_AFFINITY}},
                },
                "Worker": {
                    "restartPolicy": "OnFailure",
                    "template": {"spec": {"affinity": SCHEDULABLE_AFFINITY}},
                },
            }
        },
    }


def fields(problems: list[validation.Problem], severity: Severity) -> list[str]:
    return [p.field for p in problems if p.severity is severity]


def test_a_complete_job_has_no_problem() -> None:
    assert check(job()) == []
    assert opted_in(job())
    assert max_retry_count(job()) == 2


def test_the_shipped_example_is_resumable() -> None:
    manifest = yaml.safe_load((JOBS / "valid" / "pytorchjob-auto-resume.yaml").read_text())
    assert blocking(check(manifest)) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [("True", "only the string"), ("yes", "only the string"), (True, "the YAML boolean true, not a string"),
     ("false", "only the string")],
)
def test_the_enable_annotation_must_be_the_string_true(value: object, message: str) -> None:
    problems = check(job(**{wire.AUTO_RESUME_ANNOTATION: value}))
    assert fields(problems, Severity.ERROR) == [f"metadata.annotations[{wire.AUTO_RESUME_ANNOTATION}]"]
    assert message in problems[0].message
    assert '"true"' in problems[0].fix


def test_a_job_without_the_annotation_has_not_opted_in() -> None:
    manifest = job()
    del manifest["metadata"]["annotations"][wire.AUTO_RESUME_ANNOTATION]
    problems = check(manifest)
    assert "not opted in" in problems[0].message
    assert not opted_in(manifest)


@pytest.mark.parametrize("value", ["-1", "1.5", "two", " 2", "", 3])
def test_a_retry_count_that_is_not_a_whole_number_blocks(value: object) -> None:
    manifest = job(**{wire.MAX_RETRY_ANNOTATION: value})
    assert fields(check(manifest), Severity.ERROR) == [f"metadata.annotations[{wire.MAX_RETRY_ANNOTATION}]"]
    assert max_retry_count(manifest) is None


def test_the_retry_count_has_a_ceiling() -> None:
    assert max_retry_count(job(**{wire.MAX_RETRY_ANNOTATION: str(validation.MAX_RETRY_LIMIT)})) == 100
    above = job(**{wire.MAX_RETRY_ANNOTATION: str(validation.MAX_RETRY_LIMIT + 1)})
    assert "above the limit" in blocking(check(above))[0].message


def test_zero_and_missing_counts_are_warnings() -> None:
    assert fields(check(job(**{wire.MAX_RETRY_ANNOTATION: "0"})), Severity.WARNING)
    missing = job()
    del missing["metadata"]["annotations"][wire.MAX_RETRY_ANNOTATION]
    assert blocking(check(missing)) == []
    assert max_retry_count(missing) == validation.DEFAULT_MAX_RETRY_COUNT


@pytest.mark.parametrize("policy", ["Never", "ExitCode", "Always"])
def test_each_replica_spec_needs_on_failure_and_is_named(policy: str) -> None:
    manifest = job()
    manifest["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"] = policy
    problems = blocking(check(manifest))
    assert [p.field for p in problems] == ["spec.pytorchReplicaSpecs.Worker.restartPolicy"]
    assert "Set spec.pytorchReplicaSpecs.Worker.restartPolicy: OnFailure" in problems[0].fix


def test_a_missing_restart_policy_takes_the_operators_default() -> None:
    """The training operator sets OnFailure on a PyTorchJob replica that gives none."""
    manifest = job()
    del manifest["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"]
    problems = check(manifest)
    assert fields(problems, Severity.INFO)[0] == "spec.pytorchReplicaSpecs.Worker.restartPolicy"
    assert blocking(problems) == []


def test_missing_replica_specs_block() -> None:
    manifest = job()
    manifest["spec"] = {}
    assert fields(check(manifest), Severity.ERROR) == ["spec.pytorchReplicaSpecs"]


def test_a_replica_without_the_health_affinity_gets_a_warning() -> None:
    manifest = job()
    del manifest["spec"]["pytorchReplicaSpecs"]["Master"]["template"]
    assert fields(check(manifest), Severity.WARNING) == [
        "spec.pytorchReplicaSpecs.Master.template.spec.affinity"
    ]


def test_an_ored_term_without_the_health_key_lets_pods_through() -> None:
    manifest = job()
    affinity = copy.deepcopy(SCHEDULABLE_AFFINITY)
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].append(
        {"matchExpressions": [{"key": "x", "operator": "Exists"}]}
    )
    manifest["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["affinity"] = affinity
    assert fields(check(manifest), Severity.WARNING) == [
        "spec.pytorchReplicaSpecs.Worker.template.spec.affinity"
    ]


def test_other_namespaces_are_noted_not_refused() -> None:
    manifest = job()
    manifest["metadata"]["namespace"] = "research"
    problems = check(manifest)
    assert [p.severity for p in problems] == [Severity.INFO]
    assert "handles any namespace" in problems[0].message
    assert "handlePyTorchJobsOnHyperPod" in problems[0].fix
    manifest["metadata"]["namespace"] = "hyperpod-ns-team-a"
    assert check(manifest) == []


def test_kinds() -> None:
    mpi_v1 = {**job(), "kind": "MPIJob"}
    assert "not a kind auto-restart handles" in blocking(check(mpi_v1))[0].message
    service = {"apiVersion": "v1", "kind": "Service"}
    assert [p.severity for p in check(service)] == [Severity.INFO]
    assert blocking(check(["not", "a", "mapping"]))


@pytest.mark.parametrize("name", ["mpijob.yaml", "tfjob.yaml", "xgboostjob.yaml", "paddlejob.yaml"])
def test_every_kind_is_checked_on_its_own_replica_field(name: str) -> None:
    manifest = yaml.safe_load((JOBS / "valid" / name).read_text())
    manifest["metadata"]["annotations"] = {
        wire.AUTO_RESUME_ANNOTATION: "true",
        wire.MAX_RETRY_ANNOTATION: "1",
    }
    problems = check(manifest)
    assert all(p.field.startswith(("spec.", "metadata.namespace")) for p in problems)
    replica_field = {
        "mpijob.yaml": "mpiReplicaSpecs",
        "tfjob.yaml": "tfReplicaSpecs",
        "xgboostjob.yaml": "xgbReplicaSpecs",
        "paddlejob.yaml": "paddleReplicaSpecs",
    }[name]
    assert any(replica_field in p.field for p in problems)


HYPERPOD_JOB = """
apiVersion: sagemaker.amazonaws.com/v1
kind: HyperPodPyTorchJob
metadata:
  name: demo
  namespace: hyperpod-ns-team-a
  labels: {kueue.x-k8s.io/queue-name: hyperpod-ns-team-a-localqueue, kueue.x-k8s.io/priority-class: high}
spec:
  nprocPerNode: auto
  runPolicy: {jobMaxRetryCount: 2}
  replicaSpecs: [{name: pod, replicas: 1, template: {spec: {containers: [{name: c, image: x}]}}}]
"""


def test_a_hyperpod_pytorch_job_is_left_to_hyperpods_training_operator() -> None:
    manifest = yaml.safe_load(HYPERPOD_JOB)
    problems = check(manifest)
    assert [(p.severity, p.field) for p in problems] == [(Severity.INFO, "apiVersion/kind")]
    assert "HyperPod's own training operator" in problems[0].message
    assert "spec.runPolicy.jobMaxRetryCount is 2" in problems[0].message
    assert validation.restarted_by_hyperpod(manifest) and not blocking(problems)


def test_auto_resume_annotations_on_a_hyperpod_pytorch_job_are_a_warning() -> None:
    manifest = yaml.safe_load(HYPERPOD_JOB)
    del manifest["spec"]["runPolicy"]
    manifest["metadata"]["annotations"] = {wire.AUTO_RESUME_ANNOTATION: "true"}
    problems = check(manifest)
    assert [p.severity for p in problems] == [Severity.WARNING, Severity.INFO]
    assert "do nothing" in problems[0].message and "is not set" in problems[1].message


def test_jobs_check_says_who_restarts_a_hyperpod_pytorch_job(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hyperpod_deps.cli.jobs import check_command
    file = tmp_path / "job.yaml"
    file.write_text(HYPERPOD_JOB)
    result = CliRunner().invoke(check_command, [str(file)])
    assert result.exit_code == 0, result.output
    expected = "HyperPodPyTorchJob hyperpod-ns-team-a/demo: restarted by HyperPod's training operator"
    assert expected in result.output
