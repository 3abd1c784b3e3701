"""Thresholds of the polled monitors, kept in their rule files beside the rules."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NvmlThresholds(_Strict):
    """A finding when a counter is above its threshold (so 0 means any error counts)."""

    ecc_volatile_uncorrectable: int = Field(0, ge=0, alias="eccVolatileUncorrectable")
    ecc_aggregate_uncorrectable: int = Field(0, ge=0, alias="eccAggregateUncorrectable")
    retired_pages: int = Field(60, ge=0, alias="retiredPages")
    # Throttled for heat or power AND the SM clock below this share of its maximum.
    throttle_clock_ratio: float = Field(0.5, gt=0, le=1, alias="throttleClockRatio")


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
