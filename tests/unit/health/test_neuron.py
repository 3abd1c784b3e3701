"""Neuron: device count, the neuron-monitor parser, evaluate, and the monitor over a fake /dev tree."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.neuron import (
    NeuronMonitor,
    NeuronReport,
    count_devices,
    evaluate,
    expected_devices,
    parse_monitor_report,
)
from hyperpod_deps.health.rules import RuleSet

RULES = RuleSet.load()
NOW = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)
# The shape neuron-monitor prints (one JSON document per period), trimmed to what we read.
REPORT = {
    "neuron_runtime_data": [
        {"pid": 1234, "neuron_runtime_tag": "367", "error": "",
         "report": {"execution_stats": {"period": 1.0, "error_summary": {
             "generic": 0, "numerical": 0, "transient": 0, "model": 0, "runtime": 0, "hardware": 0}}}},
    ],
    "system_data": {"neuron_hw_counters": {"period": 1.0, "error": "", "neuron_devices": [
        {"neuron_device_index": 0, "mem_ecc_corrected": 3, "mem_ecc_uncorrected": 0,
         "sram_ecc_corrected": 0, "sram_ecc_uncorrected": 0},
        {"neuron_device_index": 1, "mem_ecc_corrected": 0, "mem_ecc_uncorrected": 2,
         "sram_ecc_corrected": 0, "sram_ecc_uncorrected": 0},
    ]}},
}


def test_parse_monitor_report() -> None:
    report = parse_monitor_report(json.dumps(REPORT))
    assert report is not None
    assert report.hardware[(1, "mem_ecc_uncorrected")] == 2 and report.hardware[(0, "mem_ecc_corrected")] == 3
    assert report.runtime_errors == {"generic": 0, "numerical": 0, "transient": 0, "model": 0, "runtime": 0,
                                     "hardware": 0}


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", "null", b"\xff\xfe", '{"system_data": 5}',
                                 '{"system_data": {"neuron_hw_counters": {"neuron_devices": [1, {"x": 1}]}}}',
                                 '{"neuron_runtime_data": [{"report": {"execution_stats": {"error_summary": '
                                 '{"hardware": -1, "model": true, "runtime": "3"}}}}]}'])
def test_odd_reports_parse_to_nothing_or_empty(raw: str | bytes) -> None:
    report = parse_monitor_report(raw)
    assert report is None or report == NeuronReport()


@pytest.mark.parametrize(("count", "expected", "report", "results"), [
    (16, 16, None, []),
    (15, 16, None, [("neuron-device-count", Action.REBOOT)]),
    (0, None, None, []),
    (16, 16, NeuronReport({(1, "mem_ecc_uncorrected"): 2, (0, "mem_ecc_corrected"): 9}),
     [("neuron-mem-ecc-uncorrected", Action.REPLACE)]),
    (16, 16, NeuronReport({(4, "sram_ecc_uncorrected"): 1}),
     [("neuron-sram-ecc-uncorrected", Action.REPLACE)]),
    (16, 16, NeuronReport({}, {"hardware": 2, "model": 5}),
     [("neuron-runtime-hardware-errors", Action.WARNING)]),
])
def test_evaluate(count: int, expected: int | None, report: NeuronReport | None,
                  results: list[tuple[str, Action]]) -> None:
    assert [(m.rule, m.action) for m in evaluate(count, expected, report, RULES)] == results


def test_devices_are_counted_under_an_injected_root(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    for name in ("neuron0", "neuron1", "neuron12", "neuron", "neuronx", "nvidia0"):
        (tmp_path / "dev" / name).touch()
    assert count_devices(tmp_path) == 3
    assert count_devices(tmp_path / "missing") == 0
    assert expected_devices("ml.trn1.32xlarge") == 16 and expected_devices("ml.p5.48xlarge") is None


def test_monitor_polls_devices_and_the_latest_report(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    for index in range(15):
        (tmp_path / "dev" / f"neuron{index}").touch()
    monitor = NeuronMonitor(RULES, 16, tmp_path, read_report=lambda: json.dumps(REPORT))
    faults = monitor.poll(NOW)
    assert [(f.rule, f.action) for f in faults] == [("neuron/neuron-device-count", Action.REBOOT),
                                                    ("neuron/neuron-mem-ecc-uncorrected", Action.REPLACE)]
    assert faults[1].message == "Neuron device 1: mem_ecc_uncorrected 2"
    assert NeuronMonitor(RULES, 15, tmp_path, read_report=lambda: None).poll(NOW) == []
