"""hyperpod-deps render: the manifests helm would apply."""
from __future__ import annotations

from pathlib import Path

import click

from hyperpod_deps.chart.render import RenderError, render_text
from hyperpod_deps.cli.options import build_request, fail_render, render_options, resolve_helm


@click.command("render")
@render_options
def render_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None,
) -> None:
    """Print the manifests the chart renders with the given values."""
    request = build_request(chart, release, namespace, values_files, set_values)
    try:
        click.echo(render_text(resolve_helm(helm_binary), request), nl=False)
    except RenderError as error:
        fail_render(error)
