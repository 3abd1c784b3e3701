"""The NVML monitor: GPU count, ECC, row remapping, retired pages, throttling, NVLink state.

`evaluate` is pure (a snapshot in, rule matches out); `NvmlReader` and `NvmlMonitor` are the
thin shell. Without a GPU driver the monitor logs once that it is off and finds nothing.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from hyperpod_deps.core.health import Fault
from hyperpod_deps.core.instance_types import catalogue
from hyperpod_deps.health.classify import to_fault
from hyperpod_deps.health.gpu_snapshot import GpuSnapshot, GpuState, findings
from hyperpod_deps.health.nvml_backend import Backend, NvmlUnavailable, open_backend, read_snapshot
from hyperpod_deps.health.rules import Match, RuleSet

__all__ = ["GpuSnapshot", "GpuState", "NvmlMonitor", "NvmlReader", "evaluate", "expected_gpus"]
log = logging.getLogger(__name__)


def expected_gpus(instance_type: str | None) -> int | None:
    """How many GPUs the instance type has; None when it is not a known NVIDIA type."""
    known = catalogue().get(instance_type or "")
    return known.devices if known and known.family == "nvidia" else None


def evaluate(snapshot: GpuSnapshot, expected_gpus: int | None, rules: RuleSet) -> list[Match]:
    """The matches of every finding in the snapshot; a finding no rule matches is dropped."""
    found = findings(snapshot, expected_gpus, rules.nvml_thresholds.limits())
    matches = (rules.match("nvml", text) for text in found)
    return [match for match in matches if match is not None]


class NvmlReader:
    """NVML as GpuSnapshots. Raises NvmlUnavailable (permanent) when NVML cannot start."""

    def __init__(self, backend_factory: Callable[[], Backend] = open_backend) -> None:
        self._backend = backend_factory()

    @property
    def backend(self) -> str:
        return self._backend.name

    def read(self) -> GpuSnapshot:
        return read_snapshot(self._backend)


class NvmlMonitor:
    def __init__(self, rules: RuleSet, expected: int | None,
                 reader_factory: Callable[[], NvmlReader] = NvmlReader) -> None:
        self._rules = rules
        self._expected = expected
        self._factory: Callable[[], NvmlReader] | None = reader_factory
        self._reader: NvmlReader | None = None

    @property
    def off(self) -> bool:
        return self._factory is None and self._reader is None

    def poll(self, now: datetime) -> list[Fault]:
        reader = self._open()
        if reader is None:
            return []
        try:
            snapshot = reader.read()
        except Exception as error:  # a driver hiccup must not end the agent: try again next poll
            log.warning("NVML read failed, retrying at the next poll: %s", error)
            return []
        return [to_fault(match, now) for match in evaluate(snapshot, self._expected, self._rules)]

    def _open(self) -> NvmlReader | None:
        if self._reader is None and self._factory is not None:
            factory, self._factory = self._factory, None
            try:
                self._reader = factory()
            except (NvmlUnavailable, ImportError) as error:
                log.info("NVML monitor off: %s", error)
        return self._reader
