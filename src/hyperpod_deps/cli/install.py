"""hyperpod-deps install | upgrade | status: helm, after a preflight that can adopt what is in the way.

The sequence itself is chart/install.py's `deploy`; this module reads the options, prints, and
turns each way the sequence stops into its exit code."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hyperpod_deps.chart.install import Deployment, deploy
from hyperpod_deps.chart.preflight import OTHER_RELEASE_FLAG
from hyperpod_deps.chart.release import Readiness, release_status
from hyperpod_deps.chart.render import DEFAULT_NAMESPACE, DEFAULT_RELEASE
from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.options import (
    build_request,
    cluster_options,
    kubeconfig_option,
    render_options,
    resolve_helm,
)
from hyperpod_deps.cli.preflight import exit_on_stop
from hyperpod_deps.cli.table import table
from hyperpod_deps.core.ownership import Release

F = TypeVar("F", bound=Callable[..., Any])


def adopt_options(command: F) -> F:
    other = click.option(OTHER_RELEASE_FLAG, "adopt_from_other_releases", is_flag=True,
                         help="With --adopt, also take objects that another Helm release owns (that "
                              "release's upgrades and uninstall still act on them).")
    adopt_flag = click.option("--adopt", is_flag=True,
                              help="Give each conflicting object this release's Helm ownership metadata "
                                   "(one label, two annotations; nothing else changes), then run helm.")
    return adopt_flag(other(command))


@click.command("install")
@render_options
@cluster_options
@adopt_options
def install_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, kubeconfig: Path | None,
    skip_access_check: bool, adopt: bool, adopt_from_other_releases: bool,
) -> None:
    """Preflight, then `helm install <release> <chart> --namespace <ns>` with the same values.

    Stops before helm, with the preflight report, when an object the chart renders already
    exists without this release's ownership (unless --adopt) or a prerequisite is missing.
    """
    plan = Deployment("install", build_request(chart, release, namespace, values_files, set_values),
                      resolve_helm(helm_binary), kubeconfig, not skip_access_check, adopt,
                      adopt_from_other_releases)
    with exit_on_stop():
        deploy(plan, click.echo)


@click.command("upgrade")
@render_options
@cluster_options
@adopt_options
@click.option("--reuse-values", is_flag=True,
              help="As helm's: start from the release's current values (then --values and --set).")
def upgrade_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, kubeconfig: Path | None,
    skip_access_check: bool, adopt: bool, adopt_from_other_releases: bool, reuse_values: bool,
) -> None:
    """Preflight, then `helm upgrade <release> <chart> --namespace <ns>` with the same values.

    Objects the upgrade adds are checked like an install's; objects already in the release pass.
    """
    helm = resolve_helm(helm_binary)
    plan = Deployment("upgrade", build_request(chart, release, namespace, values_files, set_values), helm,
                      kubeconfig, not skip_access_check, adopt, adopt_from_other_releases, reuse_values)
    with exit_on_stop():
        deploy(plan, click.echo)


@click.command("status")
@click.option("--release", default=DEFAULT_RELEASE, show_default=True, help="Release name.")
@click.option("--namespace", "-n", default=DEFAULT_NAMESPACE, show_default=True)
@click.option("--helm", "helm_binary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="helm binary [default: helm on PATH, else the pinned Helm 3].")
@kubeconfig_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_command(release: str, namespace: str, helm_binary: Path | None, kubeconfig: Path | None,
                   as_json: bool) -> None:
    """`helm status`, then each Deployment (available replicas) and DaemonSet (ready pods out of
    desired) of the release. Exits 0 when every one is ready, 1 when not."""
    helm = resolve_helm(helm_binary)
    with exit_on_stop():
        found = release_status(helm, Release(release, namespace), kubeconfig)
    if as_json:
        click.echo(json.dumps({"release": release, "namespace": namespace, "status": found.state,
                               "ready": found.ready, "revision": found.revision,
                               "workloads": [_workload_dict(w) for w in found.workloads]}, indent=2))
    else:
        click.echo(f"release {release} (namespace {namespace}): {found.state}, revision {found.revision}")
        click.echo(_workload_table(found.workloads))
    raise SystemExit(ExitCode.OK if found.ready else ExitCode.CHECKS_FAILED)


def _workload_table(workloads: list[Readiness]) -> str:
    if not workloads:
        return "no Deployments or DaemonSets in this release"
    rows = [[w.component, w.kind, f"{w.namespace}/{w.name}", _count(w), "yes" if w.ok else "NO"]
            for w in workloads]
    return table(["COMPONENT", "KIND", "NAME", "READY", "OK"], rows)


def _count(workload: Readiness) -> str:
    if not workload.exists:
        return "missing"
    unit = "available" if workload.kind == "Deployment" else "ready"
    return f"{workload.ready}/{workload.desired} {unit}"


def _workload_dict(workload: Readiness) -> dict[str, Any]:
    return {"component": workload.component, "kind": workload.kind, "name": workload.name,
            "namespace": workload.namespace, "desired": workload.desired, "ready": workload.ready,
            "exists": workload.exists, "ok": workload.ok}
