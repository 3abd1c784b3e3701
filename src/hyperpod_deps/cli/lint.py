"""hyperpod-deps lint: helm lint --strict, schema validation, semantic checks."""
from __future__ import annotations

import json
from pathlib import Path

import click

from hyperpod_deps.chart.lint import LintReport, lint
from hyperpod_deps.chart.schema_errors import explain
from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.options import build_request, render_options, resolve_helm


@click.command("lint")
@render_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def lint_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, as_json: bool,
) -> None:
    """Lint the chart with the given values: helm lint --strict, the values schemas, and the
    project's checks (RBAC verbs and scope, labels, tolerations, requests, security contexts)."""
    request = build_request(chart, release, namespace, values_files, set_values)
    report = lint(resolve_helm(helm_binary), request)
    if report.render_error is not None:
        report.render_error = explain(report.render_error, request.chart)
    click.echo(_as_json(report) if as_json else _as_text(report))
    raise SystemExit(ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED)


def _as_text(report: LintReport) -> str:
    lines = [f"helm lint --strict: {'ok' if report.helm_lint_ok else 'FAILED'}"]
    if not report.helm_lint_ok:
        lines += ["  " + line for line in report.helm_lint_output.splitlines()]
    if report.render_error is not None:
        lines.append("render and schemas: FAILED")
        lines += ["  " + line for line in report.render_error.splitlines()]
        return "\n".join(lines)
    lines.append("render and schemas: ok")
    if report.unknown_keys:
        lines.append(f"values of every component, on or off: {len(report.unknown_keys)} unknown key(s)")
        lines += [f"  {unknown}" for unknown in report.unknown_keys]
    else:
        lines.append("values of every component, on or off: ok")
    status = "ok" if not report.findings else f"{len(report.findings)} finding(s)"
    lines.append(f"checks on {report.objects_checked} objects: {status}")
    lines += [f"  {finding}" for finding in report.findings]
    return "\n".join(lines)


def _as_json(report: LintReport) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "helmLint": {"ok": report.helm_lint_ok, "output": report.helm_lint_output},
            "renderError": report.render_error,
            "objectsChecked": report.objects_checked,
            "unknownKeys": [
                {"component": u.component, "path": u.path, "message": u.message} for u in report.unknown_keys
            ],
            "findings": [
                {"check": f.check, "object": f.obj, "message": f.message} for f in report.findings
            ],
        },
        indent=2,
    )
