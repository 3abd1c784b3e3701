"""hyperpod-deps images: every image the chart would pull, for mirroring."""
from __future__ import annotations

import json
from pathlib import Path

import click

from hyperpod_deps.chart.inventory import images
from hyperpod_deps.chart.render import RenderError, render
from hyperpod_deps.cli.options import build_request, fail_render, render_options, resolve_helm


@click.command("images")
@render_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def images_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, as_json: bool,
) -> None:
    """List every image the chart would pull with the given values, one per line.

    Only enabled components count: pass the same --set/-f as for the install
    (for example --set mlflow.enabled=true) to include optional components.
    """
    request = build_request(chart, release, namespace, values_files, set_values)
    try:
        found = images(render(resolve_helm(helm_binary), request))
    except RenderError as error:
        fail_render(error)
        return
    click.echo(json.dumps(found, indent=2) if as_json else "\n".join(found))
