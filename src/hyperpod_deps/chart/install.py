"""The install and upgrade sequence, in one place: render, read the cluster, decide (preflight),
adopt what the user allowed, then run helm.

`deploy` is the whole sequence; `preflight` is its first step alone, for `hyperpod-deps
preflight`. Each stops with an exception that says why: ChecksFailed (the preflight's findings,
or adoptions refused), ClusterFailed, HelmFailed, or helm's RenderError. Decisions are made in
chart/preflight.py; the cluster is read in chart/cluster.py and helm run by chart/release.py.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from hyperpod_deps.chart.cluster import connected, facts, failures, served_type
from hyperpod_deps.chart.cluster_prerequisites import declared, findings, present_signs
from hyperpod_deps.chart.inventory import images, unpublished
from hyperpod_deps.chart.preflight import Conflict, ObjectRef, PreflightReport, adoption_refusal, decide
from hyperpod_deps.chart.release import HelmFailed, current_values, helm_command, release_of, stream
from hyperpod_deps.chart.render import RenderRequest, render
from hyperpod_deps.core.ownership import Release, adoption_patch
from hyperpod_deps.kube.client import Kube


@dataclass(frozen=True)
class Deployment:
    """What `hyperpod-deps install` or `upgrade` was asked to do."""

    action: str  # "install" or "upgrade", as helm spells it
    request: RenderRequest
    helm: Path
    kubeconfig: Path | None = None
    check_access: bool = True
    adopt: bool = False  # give conflicting objects this release's ownership, then run helm
    from_other_releases: bool = False  # with adopt: also objects another Helm release owns
    reuse_values: bool = False  # upgrade: start from the release's current values, as helm's flag


class ChecksFailed(RuntimeError):
    """The sequence stopped before helm: the preflight found something in the way (`report`), or
    objects may not be adopted (`refusals`, each a reason). Nothing was changed."""

    def __init__(self, message: str, report: PreflightReport | None = None,
                 refusals: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.report = report
        self.refusals = tuple(refusals)


def preflight(helm: Path, request: RenderRequest, kubeconfig: Path | None = None,
              check_access: bool = True) -> PreflightReport:
    """What would stop helm on this cluster, and what to do; changes nothing."""
    with connected(kubeconfig) as kube:
        return _preflight(kube, helm, request, check_access)


def deploy(plan: Deployment, echo: Callable[[str], None]) -> None:
    """Preflight, adopt, then `helm install|upgrade`; `echo` gets each adoption and helm's output."""
    with _rendered_request(plan) as request:
        release = release_of(request)
        with connected(plan.kubeconfig) as kube:
            report = _preflight(kube, plan.helm, request, plan.check_access)
            to_adopt = _to_adopt(report, plan)
            with failures("adoption"):
                adopted = adopt(kube, to_adopt, release)
        for ref in adopted:
            echo(f"adopted {ref} into release {release.name} (namespace {release.namespace})")
    # helm itself gets the user's own values: with --reuse-values it reads the release's.
    extra = ("--reuse-values",) if plan.reuse_values else ()
    command = helm_command(plan.helm, plan.action, plan.request, plan.kubeconfig, extra)
    echo(f"running: {' '.join(command)}")
    if stream(command, echo) != 0:
        raise HelmFailed(f"helm {plan.action} failed (its output is above)")


def adopt(kube: Kube, conflicts: Sequence[Conflict], release: Release) -> list[ObjectRef]:
    """Give each object this release's ownership metadata (and change nothing else)."""
    adopted = []
    for found in conflicts:
        rtype = served_type(kube, found.ref.api_version, found.ref.kind)
        kube.merge_patch(rtype, found.ref.name, found.ref.namespace, adoption_patch(release))
        adopted.append(found.ref)
    return adopted


def _preflight(kube: Kube, helm: Path, request: RenderRequest, check_access: bool) -> PreflightReport:
    objects = render(helm, request)
    with failures("reading the cluster"):
        report = decide(facts(kube, objects, request, check_access), release_of(request),
                        _chart_kube_version(request.chart))
        software = declared(objects)
        present = present_signs(kube, {sign for needed in software for sign in needed.signs})
    return replace(report, prerequisites=[*report.prerequisites, *findings(software, present)],
                   unpublished_images=unpublished(images(objects)))


def _to_adopt(report: PreflightReport, plan: Deployment) -> list[Conflict]:
    """The objects to adopt, or ChecksFailed when the report or a refusal stops the sequence."""
    if report.prerequisites or (report.conflicts and not plan.adopt):
        hint = " (or rerun with --adopt)" if report.conflicts and not report.prerequisites else ""
        raise ChecksFailed(f"stopped before helm {plan.action}: resolve the findings above{hint}", report)
    # --adopt also takes the objects the chart would leave as they are (namespaces, job CRDs).
    to_adopt = [*report.conflicts, *report.left_alone] if plan.adopt else report.conflicts
    refusals = [why for c in to_adopt if (why := adoption_refusal(c, plan.from_other_releases))]
    if refusals:
        raise ChecksFailed(f"nothing was adopted and helm {plan.action} did not run", refusals=refusals)
    return to_adopt


@contextmanager
def _rendered_request(plan: Deployment) -> Iterator[RenderRequest]:
    """The request the preflight renders: what helm will apply. With --reuse-values that is the
    release's current values first, the user's on top."""
    if not plan.reuse_values:
        yield plan.request
        return
    with tempfile.TemporaryDirectory(prefix="hyperpod-deps-values-") as scratch:
        previous = Path(scratch) / "current-values.yaml"
        previous.write_text(current_values(plan.helm, release_of(plan.request), plan.kubeconfig))
        yield replace(plan.request, values_files=(previous, *plan.request.values_files))


def _chart_kube_version(chart: Path) -> str | None:
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    return str(metadata["kubeVersion"]) if metadata.get("kubeVersion") else None
