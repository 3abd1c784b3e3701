"""Options shared by the commands that render the chart or read the cluster."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hyperpod_deps.chart.locate import default_chart
from hyperpod_deps.chart.render import DEFAULT_NAMESPACE, DEFAULT_RELEASE, RenderRequest
from hyperpod_deps.chart.schema_errors import explain
from hyperpod_deps.chart.values_files import ValuesFileError, check_values_file
from hyperpod_deps.cli.exit_codes import ExitCode, fail
from hyperpod_deps.toolchain.helm import ToolUnavailable, find_helm

F = TypeVar("F", bound=Callable[..., Any])


def render_options(command: F) -> F:
    """--chart, --release, --namespace, --values/-f, --set, --set-string and --helm, in helm's
    own spelling."""
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
        click.option("--set-string", multiple=True, metavar="KEY=VALUE", expose_value=False,
                     callback=_remember_set_string,
                     help="Set a value that stays a string, as for helm (repeatable), "
                          "e.g. --set-string computeQuotaTarget.targetId=123."),
        click.option("--helm", "helm_binary", type=click.Path(exists=True, dir_okay=False,
                     path_type=Path), default=None,
                     help="helm binary [default: helm on PATH, else the pinned Helm 3, fetched once]."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def cluster_options(command: F) -> F:
    """--kubeconfig and --skip-access-check, for the commands that read the cluster before helm runs."""
    skip = click.option("--skip-access-check", is_flag=True,
                        help="Do not ask the API server whether you may create and patch what the chart "
                             "renders (one SelfSubjectAccessReview per kind and namespace).")
    return kubeconfig_option(skip(command))


def kubeconfig_option(command: F) -> F:
    return click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        default=None,
                        help="kubeconfig for the API server and helm [default: $KUBECONFIG, "
                             "else ~/.kube/config].")(command)


_SET_STRING = "hyperpod_deps.set_string_values"


def _remember_set_string(context: click.Context, _: click.Parameter, value: tuple[str, ...]) -> None:
    # Kept on the context rather than passed to each command: every command that renders takes
    # it the same way, through build_request.
    context.meta[_SET_STRING] = tuple(value)


def build_request(
    chart: Path | None,
    release: str,
    namespace: str,
    values_files: tuple[Path, ...],
    set_values: tuple[str, ...],
) -> RenderRequest:
    """The request for the values given; a values file helm would misread stops here."""
    for values_file in values_files:
        try:
            check_values_file(values_file)
        except ValuesFileError as error:
            fail(str(error), ExitCode.HELM_REFUSED)
    context = click.get_current_context(silent=True)
    set_strings: tuple[str, ...] = context.meta.get(_SET_STRING, ()) if context else ()
    return RenderRequest(
        chart=chart or default_chart(),
        release=release,
        namespace=namespace,
        values_files=values_files,
        set_values=set_values,
        set_string_values=set_strings,
    )


def resolve_helm(explicit: Path | None) -> Path:
    if explicit:
        return explicit
    try:
        return find_helm()
    except ToolUnavailable as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(ExitCode.TOOL_UNAVAILABLE) from error


def fail_render(error: Exception, chart: Path | None = None) -> None:
    click.echo(explain(str(error), chart or default_chart()), err=True)
    raise SystemExit(ExitCode.HELM_REFUSED)
