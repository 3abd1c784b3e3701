"""hyperpod-deps jobs check FILE: offline validation of job manifests for auto-resume."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.main import cli
from hyperpod_deps.core import wire

JOBS = Path(__file__).resolve().parents[1] / "data" / "jobs"
RESUMABLE = JOBS / "valid" / "pytorchjob-auto-resume.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["jobs", "check", *args])


def test_a_resumable_job_exits_0() -> None:
    result = run(str(RESUMABLE))
    assert result.exit_code == ExitCode.OK, result.output
    assert "PyTorchJob kubeflow/llama-finetune: can be auto-resumed" in result.output


def test_each_problem_is_explained_with_its_fix_and_exits_1(tmp_path: Path) -> None:
    job = yaml.safe_load(RESUMABLE.read_text())
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"] = "Never"
    job["metadata"]["annotations"][wire.MAX_RETRY_ANNOTATION] = "lots"
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    result = run(str(path))
    assert result.exit_code == ExitCode.CHECKS_FAILED
    assert "will NOT be auto-resumed" in result.output
    assert "spec.pytorchReplicaSpecs.Worker.restartPolicy: is Never" in result.output
    assert "fix: Set spec.pytorchReplicaSpecs.Worker.restartPolicy: OnFailure." in result.output
    assert "'lots', not a whole number" in result.output


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    job = yaml.safe_load(RESUMABLE.read_text())
    del job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["affinity"]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    result = run(str(path))
    assert result.exit_code == ExitCode.OK
    assert "warning: spec.pytorchReplicaSpecs.Worker.template.spec.affinity" in result.output


def test_multi_document_files_are_checked_document_by_document(tmp_path: Path) -> None:
    good = yaml.safe_load(RESUMABLE.read_text())
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}}
    bad = yaml.safe_load((JOBS / "valid" / "tfjob.yaml").read_text())
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all([good, service, bad]))
    result = run(str(path), "--json")
    assert result.exit_code == ExitCode.CHECKS_FAILED
    reports = json.loads(result.output)
    assert [r["resumable"] for r in reports] == [True, True, False]
    assert reports[1]["problems"][0]["severity"] == "info"
    assert reports[2]["object"].startswith("TFJob ")


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: [unclosed\n")
    result = run(str(path))
    assert result.exit_code == ExitCode.CHECKS_FAILED
    assert "not valid YAML" in result.output


def test_a_missing_file_is_a_usage_error() -> None:
    assert run("/nonexistent/job.yaml").exit_code == ExitCode.USAGE
