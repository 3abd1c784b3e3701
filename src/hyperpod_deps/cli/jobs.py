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
from hyperpod_deps.autorestart.settings import ControllerSettings, SettingsError
from hyperpod_deps.autorestart.settings import load as load_settings
from hyperpod_deps.autorestart.validation import Problem, Severity, blocking, check, restarted_by_hyperpod
from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import KubeError

WIDTH = 110


@dataclass(frozen=True)
class DocumentReport:
    index: int  # 1-based position in the file
    what: str  # Kind namespace/name
    problems: tuple[Problem, ...]
    hyperpod_restarts: bool = False  # a HyperPodPyTorchJob: HyperPod's training operator restarts it

    @property
    def resumable(self) -> bool:
        return not blocking(list(self.problems))


@click.group("jobs")
def jobs_group() -> None:
    """Training jobs and their auto-restart after node faults."""


@jobs_group.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def check_command(file: Path, as_json: bool) -> None:
    """Check a job manifest (YAML, several documents allowed) for auto-resume, offline.

    Explains each problem and what to change. Exits 1 when a problem would stop the job from
    being auto-resumed, 0 otherwise (warnings and notes do not).
    """
    reports = check_file(file.read_text(errors="replace"))
    click.echo(json.dumps([_as_dict(r) for r in reports], indent=2) if as_json else as_text(file, reports))
    raise SystemExit(ExitCode.OK if all(r.resumable for r in reports) else ExitCode.CHECKS_FAILED)


def check_file(text: str) -> list[DocumentReport]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        problem = Problem(Severity.ERROR, "(file)", f"not valid YAML: {error}", "Fix the YAML syntax.")
        return [DocumentReport(1, "(unreadable)", (problem,))]
    if not documents:
        problem = Problem(Severity.ERROR, "(file)", "no documents", "Give at least one job manifest.")
        return [DocumentReport(1, "(empty)", (problem,))]
    return [DocumentReport(i, _describe(d), tuple(check(d)), restarted_by_hyperpod(d))
            for i, d in enumerate(documents, start=1)]


def as_text(file: Path, reports: list[DocumentReport]) -> str:
    lines = []
    for report in reports:
        verdict = "can be auto-resumed" if report.resumable else "will NOT be auto-resumed"
        if report.hyperpod_restarts:
            verdict = "restarted by HyperPod's training operator (spec.runPolicy.jobMaxRetryCount), not ours"
        lines.append(f"{file} document {report.index}: {report.what}: {verdict}")
        for problem in report.problems:
            lines += _wrapped(f"{problem.severity}: {problem.field}: {problem.message}.", "  ")
            lines += _wrapped(f"fix: {problem.fix}", "    ")
    blocked = sum(1 for r in reports if not r.resumable)
    lines.append(f"result: {len(reports)} document(s) checked, {blocked} with problems that stop auto-resume")
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
