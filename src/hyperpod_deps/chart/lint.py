"""`helm lint --strict`, then a render (helm checks the enabled components' values against their
schemas), every subchart's values against its schema whether enabled or not, then the semantic
checks."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hyperpod_deps.chart.checks import Finding, run_checks
from hyperpod_deps.chart.render import RenderError, RenderRequest, render
from hyperpod_deps.chart.subchart_schemas import UnknownKey, unknown_keys


@dataclass
class LintReport:
    helm_lint_output: str
    helm_lint_ok: bool
    render_error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    objects_checked: int = 0
    # Keys no subchart schema knows, turned on or not (helm checks only the enabled ones).
    unknown_keys: list[UnknownKey] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.helm_lint_ok and self.render_error is None and not self.findings
                and not self.unknown_keys)


def helm_lint(helm: Path, request: RenderRequest) -> tuple[bool, str]:
    args = [str(helm), "lint", "--strict", str(request.chart), "--namespace", request.namespace]
    args += request.value_args()
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def lint(helm: Path, request: RenderRequest) -> LintReport:
    ok, output = helm_lint(helm, request)
    report = LintReport(helm_lint_output=output, helm_lint_ok=ok, unknown_keys=unknown_keys(request))
    try:
        objects = render(helm, request)
    except RenderError as error:
        report.render_error = str(error)
        return report
    report.objects_checked = len(objects)
    report.findings = run_checks(objects)
    return report
