"""`helm lint --strict`, then a render (helm checks values against every schema), then the semantic checks."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hyperpod_deps.chart.checks import Finding, run_checks
from hyperpod_deps.chart.render import RenderError, RenderRequest, render


@dataclass
class LintReport:
    helm_lint_output: str
    helm_lint_ok: bool
    render_error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    objects_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.helm_lint_ok and self.render_error is None and not self.findings


def helm_lint(helm: Path, request: RenderRequest) -> tuple[bool, str]:
    args = [str(helm), "lint", "--strict", str(request.chart), "--namespace", request.namespace]
    for values_file in request.values_files:
        args += ["--values", str(values_file)]
    for assignment in request.set_values:
        args += ["--set", assignment]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def lint(helm: Path, request: RenderRequest) -> LintReport:
    ok, output = helm_lint(helm, request)
    report = LintReport(helm_lint_output=output, helm_lint_ok=ok)
    try:
        objects = render(helm, request)
    except RenderError as error:
        report.render_error = str(error)
        return report
    report.objects_checked = len(objects)
    report.findings = run_checks(objects)
    return report
