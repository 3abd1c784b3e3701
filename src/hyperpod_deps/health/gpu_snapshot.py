"""What NVML says about a node's GPUs, and the findings it implies. Standard library only.

Kept free of msgspec and YAML so the prepared GPU check (hack/gpu/nvml_check.py) can use it
on a bare machine. Findings are plain sentences; the nvml rules (rules/nvml.yaml) turn them
into actions, so what a finding does stays data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# NVML clock event ("throttle") reason bits.
IDLE_REASON = 0x01  # nothing runs: low clocks are expected, whatever else is set
THERMAL_REASONS = 0x20 | 0x40  # software thermal slowdown, hardware thermal slowdown
POWER_REASONS = 0x04 | 0x80  # software power cap, hardware power brake


@dataclass(frozen=True)
class GpuState:
    """One GPU. None means NVML could not tell (not supported, or the call failed)."""

    index: int
    pci_bus_id: str
    ecc_volatile_uncorrectable: int | None = None
    ecc_aggregate_uncorrectable: int | None = None
    retired_pages: int | None = None  # retired for double-bit errors
    retired_pages_pending: bool | None = None
    row_remap_pending: bool | None = None
    row_remap_failure: bool | None = None
    throttle_reasons: int | None = None
    sm_clock_mhz: int | None = None
    max_sm_clock_mhz: int | None = None
    nvlinks_down: tuple[int, ...] = ()  # links the GPU has that are not active


@dataclass(frozen=True)
class GpuSnapshot:
    device_count: int
    gpus: tuple[GpuState, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Limits:
    """A finding when a counter is above its limit (0: any error counts). Defaults of nvml.yaml."""

    ecc_volatile_uncorrectable: int = 0
    ecc_aggregate_uncorrectable: int = 0
    retired_pages: int = 60
    # Throttled for heat or power AND the SM clock below this share of its maximum.
    throttle_clock_ratio: float = 0.5


def findings(snapshot: GpuSnapshot, expected_gpus: int | None, limits: Limits) -> list[str]:
    """Every finding in the snapshot, one sentence each, in GPU order."""
    found = []
    if expected_gpus is not None and snapshot.device_count != expected_gpus:
        found.append(f"GPU count {snapshot.device_count}, expected {expected_gpus}")
    for gpu in snapshot.gpus:
        found.extend(f"GPU {gpu.index} ({gpu.pci_bus_id}): {text}" for text in _gpu_findings(gpu, limits))
    return found


def _gpu_findings(gpu: GpuState, limits: Limits) -> list[str]:
    found = []
    if _above(gpu.ecc_volatile_uncorrectable, limits.ecc_volatile_uncorrectable):
        found.append(f"{gpu.ecc_volatile_uncorrectable} uncorrectable ECC errors (volatile)")
    if _above(gpu.ecc_aggregate_uncorrectable, limits.ecc_aggregate_uncorrectable):
        found.append(f"{gpu.ecc_aggregate_uncorrectable} uncorrectable ECC errors (aggregate)")
    if gpu.row_remap_failure:
        found.append("row remapping failed")
    if gpu.row_remap_pending:
        found.append("row remapping pending, the GPU needs a reset")
    if _above(gpu.retired_pages, limits.retired_pages):
        found.append(f"{gpu.retired_pages} pages retired for double-bit ECC errors")
    if gpu.retired_pages_pending:
        found.append("page retirement pending, the GPU needs a reset")
    found.extend(_throttle_findings(gpu, limits))
    found.extend(f"NVLink {link} is down" for link in gpu.nvlinks_down)
    return found


def _throttle_findings(gpu: GpuState, limits: Limits) -> list[str]:
    if not gpu.throttle_reasons or not gpu.sm_clock_mhz or not gpu.max_sm_clock_mhz:
        return []
    if gpu.throttle_reasons & IDLE_REASON:
        return []
    if gpu.sm_clock_mhz >= gpu.max_sm_clock_mhz * limits.throttle_clock_ratio:
        return []
    clocks = f"SM clock {gpu.sm_clock_mhz} MHz of {gpu.max_sm_clock_mhz} MHz"
    kinds = [(THERMAL_REASONS, "thermal"), (POWER_REASONS, "power")]
    return [f"{kind} throttling, {clocks}" for bits, kind in kinds if gpu.throttle_reasons & bits]


def _above(value: int | None, limit: int) -> bool:
    return value is not None and value > limit
