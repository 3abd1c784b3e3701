"""hyperpod-deps images: every image the chart would pull, for mirroring; `images push`: the
image this project builds, into a registry."""
from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from hyperpod_deps.chart.inventory import ImageOrigin, images, origin
from hyperpod_deps.chart.render import RenderError, render
from hyperpod_deps.cli.exit_codes import ExitCode, fail
from hyperpod_deps.cli.options import build_request, fail_render, render_options, resolve_helm
from hyperpod_deps.localcluster.layout import DEFAULT_NAME
from hyperpod_deps.toolchain import agents_image
from hyperpod_deps.toolchain.image_push import PushError, push


@click.group("images", invoke_without_command=True)
@click.pass_context
@render_options
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {image, builtHere, published}.")
def images_command(
    context: click.Context, chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, as_json: bool,
) -> None:
    """List every image the chart would pull with the given values, one per line.

    Only enabled components count: pass the same --set/-f as for the install
    (for example --set mlflow.enabled=true) to include optional components.
    The images this project builds (`make image`) are marked after a tab, and
    so is one that no registry publishes yet (ours at the default ghcr.io).
    `hyperpod-deps images push REGISTRY` puts ours into a registry.
    """
    if context.invoked_subcommand is not None:
        return
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


@images_command.command("push")
@click.argument("registry", required=False)
@click.option("--cluster", "cluster_name", default=DEFAULT_NAME, show_default=True,
              help="Without REGISTRY: push to this local cluster's registry (`cluster up`).")
@click.option("--archive", type=click.Path(path_type=Path, dir_okay=False),
              help="The OCI archive to push (default: the one `make image` wrote).")
@click.option("--tls-verify/--no-tls-verify", default=None,
              help="Check the registry's TLS certificate (default: yes, except on loopback).")
@click.option("--values-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the chart values that pull the pushed image (use with -f).")
def push_command(registry: str | None, cluster_name: str, archive: Path | None, tls_verify: bool | None,
                 values_file: Path | None) -> None:
    """Push the agents image built here to REGISTRY (host[:port][/path]) as
    REGISTRY/hyperpod-deps/agents:VERSION, with skopeo; print its digest and the chart values
    that pull exactly that digest. Credentials: `skopeo login REGISTRY` (ECR: pipe
    `aws ecr get-login-password` into `skopeo login --username AWS --password-stdin`)."""
    if registry is None:
        from hyperpod_deps.localcluster import cluster as local  # the Kubernetes client: only here

        registry = local.status(cluster_name).registry
        if registry is None:
            fail(f"no REGISTRY given and local cluster {cluster_name!r} runs no registry: give one, "
                  "or `hyperpod-deps cluster up` first", ExitCode.USAGE)
    source = archive or agents_image.archive_path()
    click.echo(f"pushing {source} to {registry}/{agents_image.REPOSITORY} ...", err=True)
    try:
        pushed = push(source, registry, tls_verify)
    except PushError as error:
        fail(str(error), ExitCode.TOOL_UNAVAILABLE)
    values = yaml.safe_dump(pushed.values(), sort_keys=False)
    if values_file is not None:
        values_file.write_text(values)
    click.echo(f"pushed: {pushed.reference}\ndigest: {pushed.digest}")
    click.echo("chart values that pull it (helm ... -f FILE):")
    click.echo(values.rstrip())

