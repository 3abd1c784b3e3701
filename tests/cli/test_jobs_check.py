"""hyperpod-deps jobs check FILE: offline validation of job manifests for auto-resume."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
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
    assert [r["resumable"] for r in reports] == [True, None, False]
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


# Each case below is a message of issue 12 item 7; each failed before the fix.

def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    return path


def _job_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    job = yaml.safe_load(RESUMABLE.read_text())
    change(job)
    return _written(tmp_path, yaml.safe_dump(job))


@pytest.mark.parametrize("kind", ["Deployment", "ConfigMap"])
def test_a_file_with_no_job_is_not_called_resumable_and_exits_1(tmp_path: Path, kind: str) -> None:
    path = _written(tmp_path, f"apiVersion: {'apps/v1' if kind == 'Deployment' else 'v1'}\nkind: {kind}\n"
                              "metadata: {name: web}\n")
    result = run(str(path))
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.output
    assert f"{kind} web: not a training job: skipped" in result.output
    assert ": can be auto-resumed" not in result.output
    assert "error: the file holds no training job, so nothing in it can be auto-resumed" in result.output


def test_a_config_map_beside_a_resumable_job_is_skipped_and_the_file_passes(tmp_path: Path) -> None:
    job = yaml.safe_load(RESUMABLE.read_text())
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "recipe"}}
    result = run(str(_written(tmp_path, yaml.safe_dump_all([config, job]))), "--json")
    assert result.exit_code == ExitCode.OK, result.output
    reports = json.loads(result.output)
    assert [(r["job"], r["resumable"]) for r in reports] == [(False, None), (True, True)]


@pytest.mark.parametrize("field", ["apiVersion", "kind"])
def test_a_missing_api_version_or_kind_is_an_error(tmp_path: Path, field: str) -> None:
    result = run(str(_job_with(tmp_path, lambda job: job.pop(field))))
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.output
    assert "will NOT be auto-resumed" in result.output
    assert f"error: {field}: missing: Kubernetes refuses an object without it" in result.output


def test_an_unquoted_retry_count_says_to_quote_it(tmp_path: Path) -> None:
    path = _written(tmp_path, RESUMABLE.read_text().replace(
        f'{wire.MAX_RETRY_ANNOTATION}: "2"', f"{wire.MAX_RETRY_ANNOTATION}: 2"))
    result = run(str(path))
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.output
    assert "not a whole number" not in result.output
    assert "is the YAML number 2, not a string" in " ".join(result.output.split())
    assert f'fix: Quote it: {wire.MAX_RETRY_ANNOTATION}: "2".' in " ".join(result.output.split())


def test_an_unquoted_true_says_to_quote_it(tmp_path: Path) -> None:
    path = _written(tmp_path, RESUMABLE.read_text().replace(
        f'{wire.AUTO_RESUME_ANNOTATION}: "true"', f"{wire.AUTO_RESUME_ANNOTATION}: true"))
    output = " ".join(run(str(path)).output.split())
    assert "is the YAML boolean true, not a string" in output
    assert f'fix: Quote it: {wire.AUTO_RESUME_ANNOTATION}: "true".' in output


def test_a_node_selector_on_the_health_label_counts_as_the_schedulable_affinity(tmp_path: Path) -> None:
    def selector_instead(job: dict[str, Any]) -> None:
        pod = job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]
        del pod["affinity"]
        pod["nodeSelector"] = {wire.NODE_HEALTH_LABEL: wire.SCHEDULABLE}
    result = run(str(_job_with(tmp_path, selector_instead)))
    assert result.exit_code == ExitCode.OK, result.output
    assert "warning" not in result.output


@pytest.mark.parametrize(("kind", "replica", "resumable"), [
    ("PyTorchJob", "Worker", True),   # the training operator's default is OnFailure
    ("PaddleJob", "Worker", True),
    ("TFJob", "Worker", False),       # ... and Never for these
    ("XGBoostJob", "Worker", False),
    ("MPIJob", "Launcher", True),     # the MPI operator: OnFailure for the launcher
    ("MPIJob", "Worker", False),      # ... Never for workers
])
def test_a_missing_restart_policy_follows_the_operators_default(tmp_path: Path, kind: str, replica: str,
                                                                  resumable: bool) -> None:
    names = {"PyTorchJob": "pytorchjob-auto-resume.yaml", "PaddleJob": "paddlejob.yaml",
             "TFJob": "tfjob.yaml", "XGBoostJob": "xgboostjob.yaml", "MPIJob": "mpijob.yaml"}
    job = yaml.safe_load((JOBS / "valid" / names[kind]).read_text())
    job["metadata"].setdefault("annotations", {}).update(
        {wire.AUTO_RESUME_ANNOTATION: "true", wire.MAX_RETRY_ANNOTATION: "2"})
    specs = next(v for k, v in job["spec"].items() if k.endswith("ReplicaSpecs"))
    for spec in specs.values():
        spec["restartPolicy"] = "OnFailure"
    del specs[replica]["restartPolicy"]
    result = run(str(_written(tmp_path, yaml.safe_dump(job))), "--json")
    report = json.loads(result.output)[0]
    assert report["resumable"] is resumable, result.output
    messages = " ".join(p["message"] for p in report["problems"]
                        if p["field"].endswith(f"{replica}.restartPolicy"))
    default = "OnFailure" if resumable else "Never"
    assert f"{kind} {replica}" in messages and default in messages, messages
