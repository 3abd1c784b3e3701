"""The Neuron monitor: device count against the instance type, and neuron-monitor's hardware counters.

The parser and `evaluate` are pure; `NeuronMonitor` only lists /dev and reads the latest
neuron-monitor report (a JSON document) when a reader for it is given.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hyperpod_deps.core.health import Fault
from hyperpod_deps.core.instance_types import catalogue
from hyperpod_deps.health.classify import to_fault
from hyperpod_deps.health.rules import Match, RuleSet

_DEVICE = re.compile(r"neuron\d+")


@dataclass(frozen=True)
class NeuronReport:
    """Counters of one neuron-monitor report: (device index, counter) -> value."""

    hardware: dict[tuple[int, str], int] = field(default_factory=dict)
    runtime_errors: dict[str, int] = field(default_factory=dict)  # error_summary summed over runtimes


def expected_devices(instance_type: str | None) -> int | None:
    known = catalogue().get(instance_type or "")
    return known.devices if known and known.family == "neuron" else None


def count_devices(root: Path) -> int:
    """The /dev/neuronN devices under `root` (the host's / in the pod)."""
    try:
        return sum(1 for entry in (root / "dev").iterdir() if _DEVICE.fullmatch(entry.name))
    except OSError:
        return 0


def parse_monitor_report(raw: str | bytes) -> NeuronReport | None:
    """One neuron-monitor JSON document; None when it is not one. Never raises."""
    try:
        document = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    counters = _get(document, "system_data", "neuron_hw_counters", "neuron_devices")
    hardware = {}
    for device in counters if isinstance(counters, list) else []:
        index = device.get("neuron_device_index") if isinstance(device, dict) else None
        if not isinstance(index, int) or isinstance(index, bool):
            continue
        for name, value in device.items():
            if name != "neuron_device_index" and _count(value) is not None:
                hardware[(index, name)] = _count(value) or 0
    return NeuronReport(hardware, _runtime_errors(document.get("neuron_runtime_data")))


def _runtime_errors(runtimes: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for runtime in runtimes if isinstance(runtimes, list) else []:
        summary = _get(runtime, "report", "execution_stats", "error_summary")
        for name, value in summary.items() if isinstance(summary, dict) else ():
            if _count(value) is not None:
                totals[str(name)] = totals.get(str(name), 0) + (_count(value) or 0)
    return totals


def _get(document: Any, *keys: str) -> Any:
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def findings(device_count: int, expected: int | None, report: NeuronReport | None,
             rules: RuleSet) -> list[str]:
    found = []
    if expected is not None and device_count != expected:
        found.append(f"Neuron device count {device_count}, expected {expected}")
    limits = rules.neuron_thresholds.counters
    for (index, name), value in sorted((report.hardware if report else {}).items()):
        if name in limits and value > limits[name].rise:
            found.append(f"Neuron device {index}: {name} {value}")
    for name, value in sorted((report.runtime_errors if report else {}).items()):
        key = f"runtime_{name}_errors"
        if key in limits and value > limits[key].rise:
            found.append(f"Neuron runtime: {value} {name} errors")
    return found


def evaluate(device_count: int, expected: int | None, report: NeuronReport | None,
             rules: RuleSet) -> list[Match]:
    matches = (rules.match("neuron", text) for text in findings(device_count, expected, report, rules))
    return [match for match in matches if match is not None]


class NeuronMonitor:
    def __init__(self, rules: RuleSet, expected: int | None, root: Path = Path("/"),
                 read_report: Callable[[], str | bytes | None] | None = None) -> None:
        self._rules, self._expected, self._root, self._read_report = rules, expected, root, read_report

    def poll(self, now: datetime) -> list[Fault]:
        raw = self._read_report() if self._read_report else None
        report = parse_monitor_report(raw) if raw is not None else None
        matches = evaluate(count_devices(self._root), self._expected, report, self._rules)
        return [to_fault(match, now) for match in matches]
