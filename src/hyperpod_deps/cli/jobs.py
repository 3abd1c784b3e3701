"""hyperpod-deps jobs: check job manifests for auto-resume; run the auto-restart controller."""

from __future__ import annotations

import json
import signal
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from hyperpod_deps.autorestart import runner
from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.autorestart.settings import load as load_settings
from hyperpod_deps.autorestart.validation import (
    Problem,
    Severity,
    blocking,
    check,
    is_job,
    restarted_by_hyperpod,
)
from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.core.settings import SettingsError
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import KubeError

WIDTH = 110


@dataclass(frozen=True)
class DocumentReport:
    index: int  # 1-based position in the file
    what: str  # Kind namespace/name
    problems: tuple[Problem, ...]
    hyperpod_restarts: bool = False  # a HyperPodPyTorchJob: HyperPod's training operator restarts it
    job: bool = True  # False: not a training job (a Service, a ConfigMap), nothing to resume

    @property
    def resumable(self) -> bool | None:
        """None for a document that is not a job: neither resumable nor not."""
        return not blocking(list(self.problems)) if self.job else None

    @property
    def blocked(self) -> bool:
        return bool(blocking(list(self.problems)))


@click.group("jobs")
def jobs_group() -> None:
    """Training jobs and their auto-restart after node faults."""


@jobs_group.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def check_command(file: Path, as_json: bool) -> None:
    """Check a job manifest (YAML, several documents allowed) for auto-resume, offline.

    Explains each problem and what to change. Exits 1 when a problem would stop a job from
    being auto-resumed, or when the file holds no training job at all; 0 otherwise (warnings,
    notes and documents that are not jobs, such as a ConfigMap beside the job, do not).
    """
    reports = check_file(file.read_text(errors="replace"))
    click.echo(json.dumps([_as_dict(r) for r in reports], indent=2) if as_json else as_text(file, reports))
    raise SystemExit(ExitCode.OK if passed(reports) else ExitCode.CHECKS_FAILED)


def passed(reports: list[DocumentReport]) -> bool:
    """No document has a blocking problem, and at least one is a job that can be resumed."""
    return not any(r.blocked for r in reports) and any(r.job for r in reports)


def check_file(text: str) -> list[DocumentReport]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        problem = Problem(Severity.ERROR, "(file)", f"not valid YAML: {error}", "Fix the YAML syntax.")
        return [DocumentReport(1, "(unreadable)", (problem,))]
    if not documents:
        problem = Problem(Severity.ERROR, "(file)", "no documents", "Give at least one job manifest.")
        return [DocumentReport(1, "(empty)", (problem,))]
    return [_report(i, d) for i, d in enumerate(documents, start=1)]


def _report(index: int, document: Any) -> DocumentReport:
    problems = check(document)
    # A document that fails to say what it is counts as a job that cannot be resumed.
    job = is_job(document) or bool(blocking(problems))
    return DocumentReport(index, _describe(document), tuple(problems), restarted_by_hyperpod(document), job)


def as_text(file: Path, reports: list[DocumentReport]) -> str:
    lines = []
    for report in reports:
        verdict = "can be auto-resumed" if report.resumable else "will NOT be auto-resumed"
        if not report.job:
            verdict = "not a training job: skipped"
        if report.hyperpod_restarts:
            verdict = "restarted by HyperPod's training operator (spec.runPolicy.jobMaxRetryCount), not ours"
        lines.append(f"{file} document {report.index}: {report.what}: {verdict}")
        for problem in report.problems:
            lines += _wrapped(f"{problem.severity}: {problem.field}: {problem.message}.", "  ")
            lines += _wrapped(f"fix: {problem.fix}", "    ")
    blocked = sum(1 for r in reports if r.blocked)
    jobs = sum(1 for r in reports if r.job)
    lines.append(f"result: {len(reports)} document(s) checked, {jobs} of them job(s), {blocked} with "
                 "problems that stop auto-resume")
    if not jobs:
        lines.append("error: the file holds no training job, so nothing in it can be auto-resumed")
    return "\n".join(lines)


def _describe(document: Any) -> str:
    if not isinstance(document, dict):
        return f"({type(document).__name__})"
    metadata = document.get("metadata") or {}
    name = metadata.get("name", "(no name)") if isinstance(metadata, dict) else "(no name)"
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return f"{document.get('kind', '(no kind)')} {f'{namespace}/' if namespace else ''}{name}"


def _as_dict(report: DocumentReport) -> dict[str, Any]:
    return {
        "document": report.index,
        "object": report.what,
        "job": report.job,
        "resumable": report.resumable,
        "problems": [
            {"severity": str(p.severity), "field": p.field, "message": p.message, "fix": p.fix}
            for p in report.problems
        ],
    }


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False
    ) or [indent]


@jobs_group.command("controller")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (YAML, the chart's ConfigMap) [default: built-in defaults].",
)
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="kubeconfig [default: $KUBECONFIG, ~/.kube/config, else the pod's service account].",
)
def controller_command(config: Path | None, kubeconfig: Path | None) -> None:
    """Run the auto-restart controller until SIGTERM or SIGINT (the in-cluster entry point).

    Campaigns for the leader Lease; while it holds it, restarts opted-in jobs after node
    faults. Serves /metrics and /healthz on the metrics port.
    """
    try:
        settings = load_settings(config) if config else ControllerSettings()
    except SettingsError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(ExitCode.USAGE) from error
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    try:
        runner.run(lambda: Kube.connect(kubeconfig), settings, stop)
    except KubeError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(ExitCode.CLUSTER_FAILED) from error
