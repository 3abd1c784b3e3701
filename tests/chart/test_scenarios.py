"""The render matrix: every ci/*-values.yaml scenario, with both Helm majors,
validated strictly against the Kubernetes versions the chart supports and
against the project's own checks."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from hyperpod_deps.chart.checks import run_checks
from tests.chart.conftest import render_scenario
from tests.support.charts import CHART, SCENARIOS

# The chart's Chart.yaml declares kubeVersion >=1.29; every minor from there to
# the newest schema kubernetes-validate ships is checked.
CHART_KUBE_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
KUBE_VERSIONS = [f"1.{minor}.0" for minor in range(29, 38)]


def scenario_id(path: Path) -> str:
    return path.name.removesuffix("-values.yaml")


def test_there_is_a_scenario_for_defaults_all_on_and_all_off() -> None:
    names = {scenario_id(path) for path in SCENARIOS}
    assert {"00-defaults", "01-all-on", "02-all-off"} <= names


def test_declared_kube_version_matches_the_validated_range() -> None:
    assert CHART_KUBE_VERSION == ">=1.29.0-0"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_helm3_and_helm4_render_the_same_objects(scenario: Path) -> None:
    assert render_scenario(scenario, 3) == render_scenario(scenario, 4)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario_passes_the_project_checks(scenario: Path) -> None:
    findings = run_checks(list(render_scenario(scenario)))
    assert not findings, "\n".join(map(str, findings))


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_every_builtin_object_is_valid_kubernetes(scenario: Path, version: str) -> None:
    """kubernetes-validate --strict: unknown or misspelled fields fail. Custom
    resources have no bundled schema; they are validated against our CRDs elsewhere."""
    verdicts = [_verdict(json.dumps(obj, sort_keys=True), version) for obj in render_scenario(scenario)]
    assert not [v for v in verdicts if v], "\n".join(v for v in verdicts if v)


# Most objects are the same in every scenario: each distinct object is validated once per
# version (the verdict depends on nothing else), which takes this matrix from minutes to seconds.
@functools.cache
def _verdict(canonical: str, version: str) -> str:
    """"" when valid; otherwise what is wrong."""
    obj = json.loads(canonical)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.utils.SchemaNotFoundError:
        group = obj["apiVersion"].split("/")[0]
        if "." not in group or obj["apiVersion"].endswith(".k8s.io/v1"):
            return f"{obj['kind']} {obj['apiVersion']} has no schema in Kubernetes {version}"
    except kubernetes_validate.ValidationError as error:
        return f"{obj['kind']}/{obj['metadata']['name']}: {error.message}"
    return ""


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_object_names_are_unique(scenario: Path) -> None:
    seen = [
        (o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in render_scenario(scenario)
    ]
    assert len(seen) == len(set(seen))
