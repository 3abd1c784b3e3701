"""Options shared by the commands that render the chart."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hyperpod_deps.chart.locate import default_chart
from hyperpod_deps.chart.render import DEFAULT_NAMESPACE, DEFAULT_RELEASE, RenderRequest
from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.toolchain.helm import ToolUnavailable, find_helm

F = TypeVar("F", bound=Callable[..., Any])


def render_options(command: F) -> F:
    """--chart, --release, --namespace, --values/-f, --set and --helm, in helm's own spelling."""
    decorators = [
        click.option("--chart", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     default=None, help="Chart directory [default: helm_chart/HyperPodHelmChart]."),
        click.option("--release", default=DEFAULT_RELEASE, show_default=True, help="Release name."),
        click.option("--namespace", "-n", default=DEFAULT_NAMESPACE, show_default=True),
        click.option("--values", "-f", "values_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Values file, as for helm (repeatable)."),
        click.option("--set", "set_values", multiple=True, metavar="KEY=VALUE",
                     help="Set a value, as for helm (repeatable)."),
        click.option("--helm", "helm_binary", type=click.Path(exists=True, dir_okay=False,
                     path_type=Path), default=None,
                     help="helm binary [default: helm on PATH, else the pinned Helm 3, fetched once]."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def build_request(
    chart: Path | None,
    release: str,
    namespace: str,
    values_files: tuple[Path, ...],
    set_values: tuple[str, ...],
) -> RenderRequest:
    return RenderRequest(
        chart=chart or default_chart(),
        release=release,
        namespace=namespace,
        values_files=values_files,
        set_values=set_values,
    )


def resolve_helm(explicit: Path | None) -> Path:
    if explicit:
        return explicit
    try:
        return find_helm()
    except ToolUnavailable as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(ExitCode.TOOL_UNAVAILABLE) from error


def fail_render(error: Exception) -> None:
    click.echo(str(error), err=True)
    raise SystemExit(ExitCode.HELM_REFUSED)
