"""Helpers for chart tests: render with a given helm, select objects."""
from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hyperpod_deps.chart.locate import SOURCE_ROOT
from hyperpod_deps.chart.render import RenderError, RenderRequest, render
from hyperpod_deps.core.manifest import Manifest

ROOT = SOURCE_ROOT
CHART = ROOT / "helm_chart/HyperPodHelmChart"
SUBCHARTS = CHART / "charts"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


# Renders shared by every test of a run: the same values render the same
# objects, and a full render (about 1 MB with the CRDs) takes over a second.
_RENDERS: dict[tuple[object, ...], list[Manifest] | RenderError] = {}


class Renderer:
    """Renders the umbrella chart (or a subchart) with one helm binary.

    Results are memoised per helm, request and values-file contents; each call
    gets its own deep copy, so a test may change what it receives.
    """

    def __init__(self, helm: Path) -> None:
        self.helm = helm

    def __call__(
        self,
        *set_values: str,
        values_files: Iterable[Path] = (),
        chart: Path = CHART,
        release: str = "dependencies",
        namespace: str = "kube-system",
    ) -> list[Manifest]:
        request = RenderRequest(
            chart=chart,
            release=release,
            namespace=namespace,
            values_files=tuple(values_files),
            set_values=tuple(set_values),
        )
        key = (self.helm, request, tuple(path.read_bytes() for path in request.values_files))
        if key not in _RENDERS:
            try:
                _RENDERS[key] = render(self.helm, request)
            except RenderError as error:
                _RENDERS[key] = error
        result = _RENDERS[key]
        if isinstance(result, RenderError):
            raise RenderError(str(result))
        return copy.deepcopy(result)


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [obj for obj in objects if obj.get("kind") == kind]


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}: {kinds(objects)}"
    return matches[0]


def kinds(objects: list[Manifest]) -> list[str]:
    return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def affinity_instance_types(workload: Manifest) -> list[str]:
    terms = pod_spec(workload)["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    values: list[str] = []
    for term in terms:
        for expression in term.get("matchExpressions", []):
            if expression["key"] == "node.kubernetes.io/instance-type":
                values += expression["values"]
    return values
