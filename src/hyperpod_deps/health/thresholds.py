"""Thresholds of the polled monitors, kept in their rule files beside the rules."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hyperpod_deps.health.gpu_snapshot import Limits


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NvmlThresholds(_Strict):
    """nvml.yaml's thresholds; the defaults are gpu_snapshot.Limits' (one place for both)."""

    ecc_volatile_uncorrectable: int = Field(Limits.ecc_volatile_uncorrectable, ge=0,
                                            alias="eccVolatileUncorrectable")
    ecc_aggregate_uncorrectable: int = Field(Limits.ecc_aggregate_uncorrectable, ge=0,
                                             alias="eccAggregateUncorrectable")
    retired_pages: int = Field(Limits.retired_pages, ge=0, alias="retiredPages")
    throttle_clock_ratio: float = Field(Limits.throttle_clock_ratio, gt=0, le=1, alias="throttleClockRatio")

    def limits(self) -> Limits:
        return Limits(self.ecc_volatile_uncorrectable, self.ecc_aggregate_uncorrectable,
                      self.retired_pages, self.throttle_clock_ratio)


class CounterThreshold(_Strict):
    # A finding when the counter rose by more than this between two polls.
    rise: int = Field(0, ge=0)


class EfaThresholds(_Strict):
    counters: dict[str, CounterThreshold] = Field(default_factory=dict)


class NeuronThresholds(_Strict):
    """A finding when a neuron-monitor hardware counter is above its threshold."""

    counters: dict[str, CounterThreshold] = Field(default_factory=dict)


THRESHOLDS: dict[str, type[_Strict]] = {
    "nvml": NvmlThresholds, "efa": EfaThresholds, "neuron": NeuronThresholds,
}
