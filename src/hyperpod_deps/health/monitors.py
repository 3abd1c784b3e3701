"""The polled monitors the settings turn on, built for this node's instance type."""
from __future__ import annotations

from hyperpod_deps.health.efa import EfaMonitor
from hyperpod_deps.health.neuron import NeuronMonitor, expected_devices
from hyperpod_deps.health.nvml import NvmlMonitor, expected_gpus
from hyperpod_deps.health.rules import RuleSet
from hyperpod_deps.health.settings import Settings
from hyperpod_deps.health.sources import Monitor


def monitors(settings: Settings, rules: RuleSet,
             instance_type: str | None) -> list[tuple[str, Monitor, float]]:
    """(name, monitor, poll interval) for each monitor that is on."""
    sources, root = settings.sources, settings.host_root
    chosen: list[tuple[str, Monitor, float]] = []
    if sources.nvml.enabled:
        chosen.append(("nvml", NvmlMonitor(rules, expected_gpus(instance_type)),
                       sources.nvml.interval_seconds))
    if sources.neuron.enabled:
        chosen.append(("neuron", NeuronMonitor(rules, expected_devices(instance_type), root=root),
                       sources.neuron.interval_seconds))
    if sources.efa.enabled:
        chosen.append(("efa", EfaMonitor(rules, root=root), sources.efa.interval_seconds))
    return chosen
