"""The hyperpod-deps commands, run as a user runs them, with the real helm."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from hyperpod_deps import __version__
from hyperpod_deps.chart.components import components
from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.main import cli
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--helm", str(helm_path(3))])


def test_plan_json_lists_every_component_with_its_state() -> None:
    result = run("plan", "--json")
    assert result.exit_code == 0, result.output
    entries = {entry["component"]: entry for entry in json.loads(result.output)}
    # The umbrella's own row: the namespaces it creates for the components (aws-hyperpod, ...).
    assert set(entries) == {c.chart for c in components(CHART)} | {"hyperpod-helm-chart"}
    assert entries["hyperpod-helm-chart"]["objects"] == {"Namespace": 3}
    assert entries["training-operators"]["valuesKey"] == "trainingOperators"
    assert entries["mlflow"]["enabled"] is False
    assert entries["nvidia-device-plugin"]["enabled"] is True
    placements = entries["nvidia-device-plugin"]["placements"]
    (types,) = placements.values()
    assert "ml.p5.48xlarge" in types and "ml.trn1.32xlarge" not in types


def test_plan_follows_set_values() -> None:
    result = run("plan", "--json", "--set", "trainingOperators.enabled=false")
    entries = {entry["component"]: entry for entry in json.loads(result.output)}
    assert entries["training-operators"]["enabled"] is False
    assert entries["training-operators"]["objects"] == {}


def test_plan_text_has_the_table_and_placements() -> None:
    result = run("plan")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("COMPONENT")
    assert "DAEMONSET" in result.output and "INSTANCE TYPES" in result.output


def test_render_prints_manifests_with_values_files(tmp_path: Path) -> None:
    values = tmp_path / "v.yaml"
    values.write_text("trainingOperators:\n  enabled: false\n")
    result = run("render", "-f", str(values))
    assert result.exit_code == 0
    kinds = {doc["kind"] for doc in yaml.safe_load_all(result.output) if doc}
    assert "ClusterRole" in kinds


def test_a_refused_render_exits_with_helm_refused_and_helms_message() -> None:
    result = run("render", "--set", "inferenceOperators.enabled=true")
    assert result.exit_code == ExitCode.HELM_REFUSED
    assert "inferenceOperators.enabled=true needs 4 more value(s)" in result.output


def test_a_typo_is_refused_by_the_schema() -> None:
    result = run("render", "--set", "trainingOperator.enabled=false")
    assert result.exit_code == ExitCode.HELM_REFUSED
    assert "trainingOperator" in result.output


def test_images_lists_every_pulled_image_once() -> None:
    result = run("images", "--json")
    assert result.exit_code == 0
    found = [entry["image"] for entry in json.loads(result.output)]
    assert found == sorted(set(found))
    assert any("k8s-device-plugin" in image for image in found)
    assert any("hyperpod-health-monitoring-agent" in image for image in found)


def test_a_default_hyperpod_install_pulls_only_published_images() -> None:
    """The agents image is built by this project and not published: on hyperpod nothing pulls it
    unless asked (the job auto-restart controller is opt-in there)."""
    entries = json.loads(run("images", "--json").output)
    assert entries and all(entry["published"] for entry in entries)
    assert not any(entry["builtHere"] for entry in entries)
    opted_in = json.loads(run("images", "--json", "--set", "job-auto-restart.controller.enabled=true").output)
    assert [e for e in opted_in if e["builtHere"]] == [
        {"image": f"ghcr.io/hyperpod-deps/agents:{__version__}", "builtHere": True, "published": False}]


def test_on_generic_the_image_to_build_is_marked() -> None:
    lines = run("images", "--set", "global.platform=generic").output.splitlines()
    [ours] = [line for line in lines if "hyperpod-deps/agents" in line]
    image, mark = ours.split("\t")
    assert image == f"ghcr.io/hyperpod-deps/agents:{__version__}"
    assert "make image" in mark and "no registry publishes it yet" in mark
    assert all("\t" not in line for line in lines if line != ours)


def test_images_follow_the_global_registry() -> None:
    result = run("images", "--set", "global.platform=generic",
                 "--set", "global.imageRegistry=mirror.example:5000")
    lines = [line.split("\t")[0] for line in result.output.splitlines()]
    # The health agent's regional AWS image is the one exception: it names its own registry.
    mirrored = [image for image in lines if image.startswith("mirror.example:5000/")]
    assert len(mirrored) >= len(lines) - 1
    assert "no registry publishes" not in result.output


def test_lint_passes_on_defaults() -> None:
    result = run("lint")
    assert result.exit_code == ExitCode.OK, result.output
    assert "helm lint --strict: ok" in result.output
    assert "checks on" in result.output and ": ok" in result.output


@pytest.mark.parametrize("as_json", [False, True])
def test_lint_fails_on_refused_values(as_json: bool) -> None:
    args = ["lint", "--set", "global.platform=openshift"] + (["--json"] if as_json else [])
    result = run(*args)
    assert result.exit_code == ExitCode.CHECKS_FAILED
    if as_json:
        report = json.loads(result.output)
        assert report["ok"] is False and "platform" in report["renderError"]
    else:
        assert "render and schemas: FAILED" in result.output
