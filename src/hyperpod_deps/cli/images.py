"""hyperpod-deps images: every image the chart would pull, for mirroring."""
from __future__ import annotations

import json
from pathlib import Path

import click

from hyperpod_deps.chart.inventory import ImageOrigin, images, origin
from hyperpod_deps.chart.render import RenderError, render
from hyperpod_deps.cli.options import build_request, fail_render, render_options, resolve_helm


@click.command("images")
@render_options
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {image, builtHere, published}.")
def images_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, as_json: bool,
) -> None:
    """List every image the chart would pull with the given values, one per line.

    Only enabled components count: pass the same --set/-f as for the install
    (for example --set mlflow.enabled=true) to include optional components.
    The images this project builds (`make image`) are marked after a tab, and
    so is one that no registry publishes yet (ours at the default ghcr.io).
    """
    request = build_request(chart, release, namespace, values_files, set_values)
    try:
        found = images(render(resolve_helm(helm_binary), request))
    except RenderError as error:
        fail_render(error)
        return
    origins = [origin(image) for image in found]
    if as_json:
        click.echo(json.dumps([{"image": o.image, "builtHere": o.built_here, "published": o.published}
                               for o in origins], indent=2))
    else:
        click.echo("\n".join(_line(o) for o in origins))


def _line(found: ImageOrigin) -> str:
    if not found.built_here:
        return found.image
    mark = "built by this project: make image (docs/image.md)"
    if not found.published:
        mark += "; no registry publishes it yet: push it and set global.imageRegistry"
    return f"{found.image}\t# {mark}"
