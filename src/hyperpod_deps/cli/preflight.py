"""hyperpod-deps preflight: what would stop `helm install` on this cluster, and what to do."""
from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from hyperpod_deps.chart.cluster import ClusterFailed
from hyperpod_deps.chart.install import ChecksFailed, preflight
from hyperpod_deps.chart.preflight import Conflict, PreflightReport
from hyperpod_deps.chart.release import HelmFailed
from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.cli.exit_codes import ExitCode, fail
from hyperpod_deps.cli.options import (
    build_request,
    cluster_options,
    fail_render,
    render_options,
    resolve_helm,
)

WIDTH = 110
_COMMAND = re.compile(r"`[^`]*`")
_NO_BREAK = "\u00a0"  # textwrap splits on ASCII whitespace only


@click.command("preflight")
@render_options
@cluster_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def preflight_command(
    chart: Path | None, release: str, namespace: str, values_files: tuple[Path, ...],
    set_values: tuple[str, ...], helm_binary: Path | None, kubeconfig: Path | None,
    skip_access_check: bool, as_json: bool,
) -> None:
    """Check the cluster before installing the chart with these values.

    Finds every object the chart renders that already exists without this release's Helm
    ownership (helm install refuses those), says who owns it and the ways out (delete it, or
    `hyperpod-deps install --adopt`); checks the Kubernetes version against the chart's
    kubeVersion, the namespaces the chart expects to exist, and whether you may create what it
    renders. Exits 0 when nothing stands in the way, 1 when something does.
    """
    request = build_request(chart, release, namespace, values_files, set_values)
    with exit_on_stop():
        report = preflight(resolve_helm(helm_binary), request, kubeconfig, not skip_access_check)
    click.echo(as_json_text(report) if as_json else as_text(report))
    raise SystemExit(ExitCode.OK if report.ok else ExitCode.CHECKS_FAILED)


@contextmanager
def exit_on_stop() -> Iterator[None]:
    """Each way the chart's install sequence stops (chart/install.py), as its message and exit code."""
    try:
        yield
    except ChecksFailed as stop:
        if stop.report is not None:
            click.echo(as_text(stop.report))
        for why in stop.refusals:
            click.echo(f"refusing to adopt {why}", err=True)
        fail(str(stop), ExitCode.CHECKS_FAILED)
    except RenderError as error:
        fail_render(error)
    except HelmFailed as error:
        fail(str(error), ExitCode.HELM_REFUSED)
    except ClusterFailed as error:
        fail(str(error), ExitCode.CLUSTER_FAILED)


def as_text(report: PreflightReport) -> str:
    lines = [f"preflight of release {report.release.name} (namespace {report.release.namespace}) on "
             f"Kubernetes {report.server_version}: {report.objects_checked} objects checked"]
    if report.conflicts:
        lines.append(f"\nCONFLICTS ({len(report.conflicts)}): objects that exist without this release's "
                     "ownership; helm install would refuse each")
        for found in report.conflicts:
            lines += conflict_lines(found)
    if report.left_alone:
        lines.append(f"\nLEFT AS THEY ARE ({len(report.left_alone)}): they exist without this release's "
                     "ownership, and the chart does not render them (--adopt hands them to the release)")
        for found in report.left_alone:
            lines += _wrapped(f"{found.ref} ({found.ownership.describe()})", "  ")
    if report.prerequisites:
        lines.append(f"\nPREREQUISITES NOT MET ({len(report.prerequisites)})")
        for item in report.prerequisites:
            lines += _wrapped(f"{item.check}: {item.message}", "  ")
            lines += _wrapped(f"fix: {item.fix}", "    ")
    if report.unpublished_images:
        lines.append(f"\nIMAGES NO REGISTRY PUBLISHES YET ({len(report.unpublished_images)}): this project "
                     "builds them; until a node can pull them, their pods wait in ImagePullBackOff")
        for image in report.unpublished_images:
            lines.append(f"  {image}")
        lines += _wrapped("fix: `make image`, then `hyperpod-deps images push <registry> --values-file "
                          "agents-image.yaml` and install with `-f agents-image.yaml` (docs/image.md)",
                          "    ")
    if report.team_namespaces:
        lines.append(f"\nTEAM NAMESPACES WITHOUT TASK GOVERNANCE METADATA ({len(report.team_namespaces)})")
        for item in report.team_namespaces:
            lines += _wrapped(f"{item.check}: {item.message}", "  ")
            lines += _wrapped(f"fix: {item.fix}", "    ")
    verdict = ("ok: nothing stands in the way of helm install" if report.ok else
               f"{len(report.conflicts)} conflict(s), {len(report.prerequisites)} unmet prerequisite(s)")
    lines.append(f"\nresult: {verdict}")
    return "\n".join(lines)


def conflict_lines(found: Conflict) -> list[str]:
    lines = [f"  {found.ref}  [component {found.component}]"]
    lines += _wrapped(f"owner: {found.ownership.describe()}", "    ")
    if found.crd is not None:
        count = "could not be counted" if found.crd.custom_resources is None else found.crd.custom_resources
        lines += _wrapped(f"{found.crd.kind} objects in the cluster: {count} (deleting the CRD deletes them "
                          "all)", "    ")
    lines += _wrapped(f"helm: {found.helm_message}", "    ")
    lines.append("    ways out:")
    for way in found.ways_out:
        lines += _wrapped(way, "      ")
    return lines


def as_json_text(report: PreflightReport) -> str:
    return json.dumps(as_dict(report), indent=2)


def as_dict(report: PreflightReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "release": {"name": report.release.name, "namespace": report.release.namespace},
        "serverVersion": report.server_version,
        "objectsChecked": report.objects_checked,
        "conflicts": [_conflict_dict(found) for found in report.conflicts],
        "leftAlone": [_conflict_dict(found) for found in report.left_alone],
        "prerequisites": [{"check": item.check, "message": item.message, "fix": item.fix}
                          for item in report.prerequisites],
        "unpublishedImages": report.unpublished_images,
        "teamNamespaces": [{"check": item.check, "message": item.message, "fix": item.fix}
                           for item in report.team_namespaces],
    }


def _conflict_dict(found: Conflict) -> dict[str, Any]:
    owner = found.ownership
    return {
        "object": {"apiVersion": found.ref.api_version, "kind": found.ref.kind, "name": found.ref.name,
                   "namespace": found.ref.namespace},
        "component": found.component,
        "owner": {
            "kind": owner.owner.value,
            "release": {"name": owner.release.name, "namespace": owner.release.namespace}
            if owner.release else None,
            "managers": list(owner.managers), "tools": list(owner.tools),
            "ownerReferences": list(owner.controllers), "description": owner.describe(),
        },
        "helmMessage": found.helm_message,
        "crd": None if found.crd is None else {
            "kind": found.crd.kind, "customResources": found.crd.custom_resources,
            "keptOnUninstall": found.crd.kept_on_uninstall,
        },
        "adoptableWithoutOverride": not found.owned_by_other_release,
        "waysOut": list(found.ways_out),
    }


def _wrapped(text: str, indent: str) -> list[str]:
    """Wrapped to WIDTH, but a command in backticks is never split across lines, so it copies whole."""
    protected = _COMMAND.sub(lambda match: match.group(0).replace(" ", _NO_BREAK), text)
    lines = textwrap.wrap(protected, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                          break_long_words=False, break_on_hyphens=False)
    return [line.replace(_NO_BREAK, " ") for line in lines]
