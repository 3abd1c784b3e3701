"""NVML: findings and evaluate on fake snapshots (pure), and the shell without a driver (real here)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.gpu_snapshot import GpuSnapshot, GpuState, Limits, findings
from hyperpod_deps.health.nvml import NvmlMonitor, NvmlReader, evaluate, expected_gpus
from hyperpod_deps.health.nvml_backend import CtypesBackend, NvmlUnavailable, _links_down, read_snapshot
from hyperpod_deps.health.rules import RuleSet, RuleSource, shipped_sources

RULES = RuleSet.load()
NOW = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)
HEALTHY = GpuState(0, "00000000:18:00.0", 0, 0, 0, False, False, False, 0, 1980, 1980, ())


def gpu(**changes: object) -> GpuSnapshot:
    return GpuSnapshot(1, (GpuState(**{**HEALTHY.__dict__, **changes}),))


@pytest.mark.parametrize(("snapshot", "expected", "results"), [
    (gpu(), 1, []),
    (GpuSnapshot(8, tuple(GpuState(i, f"0:{i}") for i in range(8))), 8, []),  # NVML could tell nothing more
    (GpuSnapshot(7, ()), 8, [("gpu-count", Action.REBOOT)]),
    (GpuSnapshot(9, ()), 8, [("gpu-count", Action.REBOOT)]),
    (GpuSnapshot(0, ()), None, []),  # unknown instance type: no count check
    (gpu(ecc_volatile_uncorrectable=2), 1, [("ecc-volatile-uncorrectable", Action.REPLACE)]),
    (gpu(ecc_aggregate_uncorrectable=1), 1, [("ecc-aggregate-uncorrectable", Action.REPLACE)]),
    (gpu(row_remap_failure=True), 1, [("row-remap-failure", Action.REPLACE)]),
    (gpu(row_remap_pending=True), 1, [("row-remap-pending", Action.REBOOT)]),
    (gpu(retired_pages=60), 1, []),
    (gpu(retired_pages=61), 1, [("retired-pages", Action.REPLACE)]),
    (gpu(retired_pages_pending=True), 1, [("retired-pages-pending", Action.REBOOT)]),
    (gpu(throttle_reasons=0x40, sm_clock_mhz=600), 1, [("thermal-throttle", Action.WARNING)]),
    (gpu(throttle_reasons=0x20, sm_clock_mhz=990), 1, []),  # exactly half the clock: not below it
    (gpu(throttle_reasons=0x04, sm_clock_mhz=700), 1, [("power-throttle", Action.WARNING)]),
    (gpu(throttle_reasons=0x01, sm_clock_mhz=300), 1, []),  # idle is not throttling
    (gpu(throttle_reasons=0x05, sm_clock_mhz=300), 1, []),  # idle at the power cap: still idle
    (gpu(throttle_reasons=0x44, sm_clock_mhz=300), 1, [("thermal-throttle", Action.WARNING),
                                                       ("power-throttle", Action.WARNING)]),
    (gpu(throttle_reasons=0x40, sm_clock_mhz=None), 1, []),
    (gpu(nvlinks_down=(3, 11)), 1, [("nvlink-down", Action.REBOOT), ("nvlink-down", Action.REBOOT)]),
    (GpuSnapshot(7, (GpuState(0, "x", row_remap_failure=True),)), 8,
     [("gpu-count", Action.REBOOT), ("row-remap-failure", Action.REPLACE)]),
])
def test_evaluate(snapshot: GpuSnapshot, expected: int | None, results: list[tuple[str, Action]]) -> None:
    assert [(m.rule, m.action) for m in evaluate(snapshot, expected, RULES)] == results


def test_findings_name_the_gpu_and_the_numbers() -> None:
    assert findings(gpu(ecc_volatile_uncorrectable=2), 1, Limits()) == [
        "GPU 0 (00000000:18:00.0): 2 uncorrectable ECC errors (volatile)"]
    assert findings(GpuSnapshot(6, ()), 8, Limits()) == ["GPU count 6, expected 8"]


def test_thresholds_come_from_the_rule_file() -> None:
    document = RuleSource("x.yaml", "source: nvml\nthresholds: {retiredPages: 100}\n")
    loose = RuleSet(shipped_sources(), [document])
    assert evaluate(gpu(retired_pages=61), 1, loose) == []
    assert loose.nvml_thresholds.limits() == Limits(retired_pages=100)
    assert RULES.nvml_thresholds.limits() == Limits()  # nvml.yaml says what the defaults say


def test_links_count_as_down_only_on_a_gpu_that_uses_nvlink() -> None:
    assert _links_down([1, 1, 0, None]) == (2,)
    assert _links_down([0, 0, None]) == ()  # PCIe card or a VM with one GPU of a board
    assert _links_down([None] * 18) == ()


def test_expected_gpus_from_the_instance_type() -> None:
    assert expected_gpus("ml.p5.48xlarge") == 8
    assert expected_gpus("ml.g5.xlarge") == 1
    assert expected_gpus("ml.trn1.32xlarge") is None  # Neuron, not NVIDIA
    assert expected_gpus(None) is None and expected_gpus("ml.unknown") is None


class FakeBackend:
    """A pure stand-in for NVML to test how answers become a snapshot (no I/O involved)."""

    name = "fake"

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers

    def count(self) -> int:
        return 2

    def call(self, function: str, index: int, *args: object) -> object:
        answer = self.answers.get(function)
        if isinstance(answer, Exception):
            raise answer
        if function == "nvmlDeviceGetNvLinkState":
            return {0: 1, 1: 0}.get(int(str(args[0]))) if index == 1 else None
        return answer


def test_read_snapshot_turns_unanswerable_questions_into_none() -> None:
    class Pci:
        busId = b"00000000:18:00.0"

    backend = FakeBackend({
        "nvmlDeviceGetPciInfo": Pci(), "nvmlDeviceGetTotalEccErrors": 3,
        "nvmlDeviceGetRemappedRows": (0, 1, 1, 0), "nvmlDeviceGetRetiredPages": [1, 2],
        "nvmlDeviceGetRetiredPagesPendingStatus": RuntimeError("not supported"),
        "nvmlDeviceGetCurrentClocksThrottleReasons": 0x40, "nvmlDeviceGetClockInfo": 500,
        "nvmlDeviceGetMaxClockInfo": 1980,
    })
    snapshot = read_snapshot(backend)
    first, second = snapshot.gpus
    assert snapshot.device_count == 2 and first.pci_bus_id == "00000000:18:00.0"
    assert first.ecc_volatile_uncorrectable == 3
    assert (first.retired_pages, first.retired_pages_pending) == (2, None)
    assert (first.row_remap_pending, first.row_remap_failure) == (True, False)
    assert first.nvlinks_down == () and second.nvlinks_down == (1,)
    # None links (the device has no such link) are skipped; the error becomes None
    assert [m.rule for m in evaluate(snapshot, 2, RULES)].count("nvlink-down") == 1


def test_without_a_driver_the_monitor_is_off_once_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    # This machine has no NVIDIA driver: NVML really fails to start here.
    caplog.set_level(logging.INFO, logger="hyperpod_deps.health.nvml")
    monitor = NvmlMonitor(RULES, 8)
    assert monitor.poll(NOW) == [] and monitor.poll(NOW) == []
    assert monitor.off
    assert len([r for r in caplog.records if "NVML monitor off" in r.getMessage()]) == 1
    with pytest.raises(NvmlUnavailable):
        NvmlReader()


def test_the_ctypes_fallback_reports_a_missing_library() -> None:
    with pytest.raises(NvmlUnavailable, match=r"cannot load libnvidia-ml\.so\.1"):
        CtypesBackend()
    with pytest.raises(NvmlUnavailable, match=r"cannot load /nonexistent/libnvidia-ml\.so"):
        CtypesBackend("/nonexistent/libnvidia-ml.so")


def test_a_failing_read_is_retried_not_fatal() -> None:
    class Broken(NvmlReader):
        def __init__(self) -> None:
            pass

        def read(self) -> GpuSnapshot:
            raise OSError("GPU is lost")

    monitor = NvmlMonitor(RULES, 8, reader_factory=Broken)
    assert monitor.poll(NOW) == [] and not monitor.off


def test_a_monitor_with_a_reader_reports_faults() -> None:
    class Seven(NvmlReader):
        def __init__(self) -> None:
            pass

        def read(self) -> GpuSnapshot:
            return GpuSnapshot(7, ())

    faults = NvmlMonitor(RULES, 8, reader_factory=Seven).poll(NOW)
    assert [(f.rule, f.action, f.timestamp) for f in faults] == [("nvml/gpu-count", Action.REBOOT,
                                                                   "2024-11-28T12:00:00Z")]
