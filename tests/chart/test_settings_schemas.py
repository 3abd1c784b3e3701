"""The chart's schema for the agents' settings and the models they feed give the same verdict
(hack/gen_settings_schemas.py writes the one from the other), and the kinds the chart grants the
controller are the kinds the controller's model handles."""
from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

import jsonschema
import pytest

from hyperpod_deps.autorestart.jobkinds import BY_KIND
from hyperpod_deps.autorestart.settings import ALL_KINDS, ControllerSettings
from hyperpod_deps.core.settings import SettingsError, SettingsModel, convert
from hyperpod_deps.health.settings import Settings
from tests.chart.test_health_monitoring_agent import notes
from tests.chart.test_job_auto_restart import CONTROLLER_ON, GENERIC, job_resources, settings_of
from tests.support.charts import CHART, Renderer

SUBCHARTS = CHART / "charts"


def part_schema(chart: str, *keys: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SUBCHARTS / chart / "values.schema.json").read_text())
    for key in keys:
        schema = schema["properties"][key]
    return schema


CONTROLLER = part_schema("job-auto-restart", "controller")
AGENT = part_schema("health-monitoring-agent", "openAgent", "config")


def verdicts(schema: dict[str, Any], model: type[SettingsModel], values: dict[str, Any]) -> tuple[bool, bool]:
    chart_accepts = jsonschema.Draft7Validator(schema).is_valid(values)
    try:
        convert(model, values)
        model_accepts = True
    except SettingsError:
        model_accepts = False
    return chart_accepts, model_accepts


@pytest.mark.parametrize(("values", "accepted"), [
    ({"metrics": {"port": 1024}}, True),
    ({"metrics": {"port": 1023}}, False),  # the controller's non-root user cannot bind it
    ({"metrics": {"port": 65536}}, False),
    ({"kinds": ["MPIJob", "TFJob"]}, True),
    ({"kinds": ["MPIJob", "MPIJob"]}, False),
    ({"kinds": []}, False),
    ({"kinds": ["MPIJobs"]}, False),
    ({"triggers": {"podSignals": [7, 9]}}, True),
    ({"triggers": {"podSignals": [7, 7]}}, False),
    ({"triggers": {"podSignals": [32]}}, False),
    ({"triggers": {"nodeNotReadyGraceSeconds": -1}}, False),
    ({"blastRadius": {"maxJobPercent": 0}}, False),
    ({"blastRadius": {"windowSeconds": 0}}, False),
    ({"watchTimeoutSeconds": 9}, False),
    ({"logLevel": "trace"}, False),
    ({"resyncSecond": 10}, False),
])
def test_the_controller_schema_and_model_agree(values: dict[str, Any], accepted: bool) -> None:
    assert verdicts(CONTROLLER, ControllerSettings, values) == (accepted, accepted)


@pytest.mark.parametrize(("values", "accepted"), [
    ({"metricsPort": 0}, True),  # no metrics endpoint
    ({"metricsPort": 9808}, True),
    ({"metricsPort": 80}, False),  # the agent's non-root user cannot bind it
    ({"metricsPort": 70000}, False),
    ({"sources": {"logFiles": {"paths": ["/var/log/kern.log"]}}}, True),
    ({"sources": {"logFiles": {"paths": ["/var/log/kern.log", "/var/log/kern.log"]}}}, False),
    ({"sources": {"journal": {"pollIntervalSeconds": 11}}}, False),
    ({"sources": {"nvml": {"intervalSeconds": 0}}}, False),
    ({"sources": {"efa": {"interval": 5}}}, False),
    ({"writer": {"maxBackoffSeconds": 0.05}}, False),
    ({"dedupeWindowSeconds": 86401}, False),
])
def test_the_agent_schema_and_model_agree(values: dict[str, Any], accepted: bool) -> None:
    assert verdicts(AGENT, Settings, values) == (accepted, accepted)


@pytest.mark.parametrize("values", [
    {"sources": {"journal": {"path": "/srv/journal"}}},
    {"sources": {"logFiles": {"paths": ["/home/me/kern.log"]}}},
])
def test_the_chart_refuses_paths_its_pod_does_not_mount(values: dict[str, Any]) -> None:
    assert verdicts(AGENT, Settings, values) == (False, True)


def test_keys_the_chart_sets_itself_are_not_values() -> None:
    assert {"platform", "nodeName", "stateDir"}.isdisjoint(AGENT["properties"])
    assert "platform" not in CONTROLLER["properties"]
    assert set(CONTROLLER["properties"]["leaderElection"]["properties"]) == {
        "leaseDurationSeconds", "renewDeadlineSeconds", "retryPeriodSeconds"}


def _generator() -> Any:
    hack = str(CHART.parent.parent / "hack")
    sys.path.insert(0, hack)
    try:
        spec = importlib.util.spec_from_file_location("gen_settings_schemas",
                                                      f"{hack}/gen_settings_schemas.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up by name
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(hack)


def test_a_schema_key_that_is_neither_the_models_nor_the_charts_own_stops_the_generator() -> None:
    gen = _generator()
    part = gen.PARTS[0]
    current = {**CONTROLLER, "properties": {**CONTROLLER["properties"], "retryLimit": {"type": "integer"}}}
    with pytest.raises(SystemExit, match=r"controller\.retryLimit is neither a field of ControllerSettings"):
        gen.merged(current, gen.model_schema(part), part)


def test_the_kinds_table_is_the_models_decision() -> None:
    table = _generator().kinds_left_alone()
    for platform, by_switch in table.items():
        for switch, left in by_switch.items():
            settings = convert(ControllerSettings,
                {"platform": platform, "handlePyTorchJobsOnHyperPod": switch == "true"})
            assert [k for k in ALL_KINDS if k not in settings.handled_kinds()] == left
    assert table["hyperpod"]["false"] == ["PyTorchJob"]


@pytest.mark.parametrize("values", [
    (), ("job-auto-restart.controller.handlePyTorchJobsOnHyperPod=true",),
    GENERIC[2:], (*GENERIC[2:], "job-auto-restart.controller.handlePyTorchJobsOnHyperPod=true"),
    ("job-auto-restart.controller.kinds={PyTorchJob,TFJob}",),
])
def test_the_chart_grants_exactly_the_kinds_the_model_handles(render3: Renderer,
                                                              values: tuple[str, ...]) -> None:
    objects = render3(*CONTROLLER_ON, *values)
    assert job_resources(objects) == [BY_KIND[k].plural for k in settings_of(objects).handled_kinds()]


def test_notes_name_the_kinds_left_to_hyperpod() -> None:
    assert "(PyTorchJob: HyperPod's managed auto-resume)" in notes("job-auto-restart.controller.enabled=true")
    switched = notes("job-auto-restart.controller.enabled=true",
                     "job-auto-restart.controller.handlePyTorchJobsOnHyperPod=true")
    assert "managed auto-resume)" not in switched
