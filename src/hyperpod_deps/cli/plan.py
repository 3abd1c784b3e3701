"""hyperpod-deps plan: what an install would create, component by component."""
from __future__ import annotations

import json
from pathlib import Path

import click

from hyperpod_deps.chart.plan import ComponentPlan, plan
from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.cli.options import build_request, fail_render, render_options, resolve_helm
from hyperpod_deps.cli.table import table

# Beyond this many instance types a placement is summarised in the text table.
PLACEMENT_PREVIEW = 4


@click.command("plan")
@render_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, as_json: bool,
) -> None:
    """Show, per component: enabled or not, its namespaces, the objects it creates by kind,
    the instance types each DaemonSet lands on, its images, and what it needs on the cluster
    that the chart does not install (with the command that installs it)."""
    request = build_request(chart, release, namespace, values_files, set_values)
    try:
        entries = plan(resolve_helm(helm_binary), request)
    except RenderError as error:
        fail_render(error)
        return
    if as_json:
        click.echo(json.dumps([entry.as_dict() for entry in entries], indent=2))
    else:
        click.echo(_as_text(entries))


def _as_text(entries: list[ComponentPlan]) -> str:
    rows = [
        [
            entry.component,
            entry.values_key,
            "on" if entry.enabled else "off",
            ", ".join(entry.namespaces) or ("(cluster)" if entry.enabled else "-"),
            ", ".join(f"{count} {kind}" for kind, count in entry.objects.items()) or "-",
            "\n".join(entry.images) or "-",
        ]
        for entry in entries
    ]
    sections = [table(["COMPONENT", "VALUES KEY", "ENABLED", "NAMESPACE", "OBJECTS", "IMAGES"], rows)]
    placements = [
        [entry.component, daemonset, _summarise(types)]
        for entry in entries
        for daemonset, types in entry.placements.items()
    ]
    if placements:
        sections.append(table(["COMPONENT", "DAEMONSET", "INSTANCE TYPES"], placements))
    needs = [[entry.component, need["what"], need["command"]] for entry in entries for need in entry.needs]
    if needs:
        sections.append(table(["COMPONENT", "NEEDS (NOT INSTALLED BY THE CHART)", "INSTALL COMMAND"], needs))
    return "\n\n".join(sections)


def _summarise(types: list[str]) -> str:
    if len(types) <= PLACEMENT_PREVIEW:
        return ", ".join(types)
    shown = ", ".join(types[:PLACEMENT_PREVIEW])
    return f"{len(types)} types: {shown}, ... (--json lists all)"
