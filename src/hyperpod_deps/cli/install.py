"""hyperpod-deps install | upgrade | status: helm, after a preflight that can adopt what is in the way."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hyperpod_deps.chart.install import (
    HelmFailed,
    Readiness,
    adopt,
    current_values,
    helm_command,
    helm_output,
    release_objects,
    release_of,
    stream,
    workload_readiness,
)
from hyperpod_deps.chart.preflight import OTHER_RELEASE_FLAG, adoption_refusal
from hyperpod_deps.chart.render import DEFAULT_NAMESPACE, DEFAULT_RELEASE, RenderRequest
from hyperpod_deps.cli.exit_codes import ExitCode, fail
from hyperpod_deps.cli.options import build_request, render_options, resolve_helm
from hyperpod_deps.cli.preflight import (
    as_text,
    cluster_options,
    connect_or_exit,
    kubeconfig_option,
    preflight_or_exit,
)
from hyperpod_deps.cli.table import table
from hyperpod_deps.core.ownership import Release
from hyperpod_deps.kube.errors import KubeError

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
    request = build_request(chart, release, namespace, values_files, set_values)
    _deploy("install", request, resolve_helm(helm_binary), kubeconfig, not skip_access_check,
            adopt, adopt_from_other_releases)


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
    request = build_request(chart, release, namespace, values_files, set_values)
    if not reuse_values:
        _deploy("upgrade", request, helm, kubeconfig, not skip_access_check, adopt, adopt_from_other_releases)
        return
    # The preflight must render what helm will apply: the release's values first, ours on top.
    with tempfile.TemporaryDirectory(prefix="hyperpod-deps-values-") as scratch:
        previous = Path(scratch) / "current-values.yaml"
        try:
            previous.write_text(current_values(helm, release_of(request), kubeconfig))
        except HelmFailed as error:
            fail(str(error), ExitCode.HELM_REFUSED)
        reused = build_request(chart, release, namespace, (previous, *values_files), set_values)
        _deploy("upgrade", reused, helm, kubeconfig, not skip_access_check, adopt, adopt_from_other_releases,
                helm_request=request, extra=("--reuse-values",))


def _deploy(action: str, request: RenderRequest, helm: Path, kubeconfig: Path | None, check_access: bool,
            adopt_conflicts: bool, from_other_releases: bool, helm_request: RenderRequest | None = None,
            extra: tuple[str, ...] = ()) -> None:
    release = release_of(request)
    with connect_or_exit(kubeconfig) as kube:
        report = preflight_or_exit(kube, helm, request, check_access)
        if report.prerequisites or (report.conflicts and not adopt_conflicts):
            click.echo(as_text(report))
            hint = " (or rerun with --adopt)" if report.conflicts and not report.prerequisites else ""
            fail(f"stopped before helm {action}: resolve the findings above{hint}", ExitCode.CHECKS_FAILED)
        # --adopt also takes the objects the chart would leave as they are (namespaces, job CRDs).
        to_adopt = [*report.conflicts, *report.left_alone] if adopt_conflicts else report.conflicts
        refusals = [why for c in to_adopt if (why := adoption_refusal(c, from_other_releases))]
        if refusals:
            for why in refusals:
                click.echo(f"refusing to adopt {why}", err=True)
            fail(f"nothing was adopted and helm {action} did not run", ExitCode.CHECKS_FAILED)
        try:
            for ref in adopt(kube, to_adopt, release):
                click.echo(f"adopted {ref} into release {release.name} (namespace {release.namespace})")
        except KubeError as error:
            fail(f"adoption failed: {error}", ExitCode.CLUSTER_FAILED)
    command = helm_command(helm, action, helm_request or request, kubeconfig, extra)
    click.echo(f"running: {' '.join(command)}")
    if stream(command, click.echo) != 0:
        fail(f"helm {action} failed (its output is above)", ExitCode.HELM_REFUSED)


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
    helm, target = resolve_helm(helm_binary), Release(release, namespace)
    try:
        info = json.loads(helm_output(helm, kubeconfig, "status", release, "--namespace", namespace,
                                      "--output", "json"))
        objects = release_objects(helm, target, kubeconfig)
    except HelmFailed as error:
        fail(str(error), ExitCode.HELM_REFUSED)
    with connect_or_exit(kubeconfig) as kube:
        try:
            workloads = workload_readiness(kube, objects, target)
        except KubeError as error:
            fail(f"reading the cluster failed: {error}", ExitCode.CLUSTER_FAILED)
    state = str((info.get("info") or {}).get("status"))
    ready = state == "deployed" and all(w.ok for w in workloads)
    if as_json:
        click.echo(json.dumps({"release": release, "namespace": namespace, "status": state, "ready": ready,
                               "revision": info.get("version"),
                               "workloads": [_workload_dict(w) for w in workloads]}, indent=2))
    else:
        click.echo(f"release {release} (namespace {namespace}): {state}, revision {info.get('version')}")
        click.echo(_workload_table(workloads))
    raise SystemExit(ExitCode.OK if ready else ExitCode.CHECKS_FAILED)


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
