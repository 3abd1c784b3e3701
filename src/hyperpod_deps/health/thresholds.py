"""Thresholds of the polled monitors, kept in their rule files beside the rules."""
from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from hyperpod_deps.core.settings import SettingsModel
from hyperpod_deps.health.gpu_snapshot import Limits

Count = Annotated[int, Meta(ge=0)]


class NvmlThresholds(SettingsModel, frozen=True):
    """nvml.yaml's thresholds; the defaults are gpu_snapshot.Limits' (one place for both)."""

    ecc_volatile_uncorrectable: Count = Limits.ecc_volatile_uncorrectable
    ecc_aggregate_uncorrectable: Count = Limits.ecc_aggregate_uncorrectable
    retired_pages: Count = Limits.retired_pages
    throttle_clock_ratio: Annotated[float, Meta(gt=0, le=1)] = Limits.throttle_clock_ratio

    def limits(self) -> Limits:
        return Limits(self.ecc_volatile_uncorrectable, self.ecc_aggregate_uncorrectable,
                      self.retired_pages, self.throttle_clock_ratio)


class CounterThreshold(SettingsModel, frozen=True):
    # A finding when the counter rose by more than this between two polls.
    rise: Count = 0


class EfaThresholds(SettingsModel, frozen=True):
    counters: dict[str, CounterThreshold] = msgspec.field(default_factory=dict)


class NeuronThresholds(SettingsModel, frozen=True):
    """A finding when a neuron-monitor hardware counter is above its threshold."""

    counters: dict[str, CounterThreshold] = msgspec.field(default_factory=dict)


THRESHOLDS: dict[str, type[SettingsModel]] = {
    "nvml": NvmlThresholds, "efa": EfaThresholds, "neuron": NeuronThresholds,
}
