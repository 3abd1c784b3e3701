"""EFA: counter parsing, sysfs reading under an injected root, rising counters."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.efa import EfaMonitor, counter_findings, parse_counter, read_counters, rising
from hyperpod_deps.health.rules import RuleSet

RULES = RuleSet.load()
NOW = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "expected"), [
    ("0\n", 0), (b"18446744073709551615\n", 18446744073709551615), ("  42 ", 42),
    ("", None), ("-1", None), ("1.5", None), ("abc", None), (b"\xff\xfe", None),
    ("\uff11\uff12", None),  # fullwidth digits
    ("1" * 21, None),
])
def test_parse_counter(raw: str | bytes, expected: int | None) -> None:
    assert parse_counter(raw) == expected


def write(root: Path, relative: str, value: str) -> None:
    path = root / "sys/class/infiniband" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value)


def test_read_counters_finds_device_and_port_counters(tmp_path: Path) -> None:
    write(tmp_path, "rdmap16s27/hw_counters/cmds_err", "3\n")
    write(tmp_path, "rdmap16s27/ports/1/hw_counters/rx_drops", "100\n")
    write(tmp_path, "rdmap16s27/ports/1/hw_counters/lifespan", "garbage\n")
    assert read_counters(tmp_path) == {"rdmap16s27/cmds_err": 3, "rdmap16s27/1/rx_drops": 100}
    assert read_counters(tmp_path / "none") == {}


@pytest.mark.parametrize(("previous", "current", "results"), [
    ({"d/1/rx_drops": 0}, {"d/1/rx_drops": 1000}, []),  # at the threshold, not above it
    ({"d/1/rx_drops": 0}, {"d/1/rx_drops": 1001}, [("efa-rx-drops", Action.WARNING)]),
    ({"d/no_completion_cmds": 4}, {"d/no_completion_cmds": 5}, [("efa-no-completion", Action.REBOOT)]),
    ({"d/1/rdma_read_wr_err": 5}, {"d/1/rdma_read_wr_err": 2}, []),  # reset: a new baseline
    ({}, {"d/1/rdma_read_wr_err": 9}, []),  # new counter: a baseline
    ({"d/1/tx_bytes": 0}, {"d/1/tx_bytes": 10**12}, []),  # not watched
    ({"d/1/impaired_remote_conn_events": 0, "d/cmds_err": 0},
     {"d/1/impaired_remote_conn_events": 11, "d/cmds_err": 11},
     [("efa-remote-unresponsive", Action.WARNING), ("efa-command-errors", Action.WARNING)]),
])
def test_rising(previous: dict[str, int], current: dict[str, int], results: list[tuple[str, Action]]) -> None:
    assert [(m.rule, m.action) for m in rising(previous, current, RULES)] == results


def test_findings_name_device_port_and_rise() -> None:
    key = "rdmap16s27/1/rx_drops"
    found = counter_findings({key: 10}, {key: 5010}, RULES.efa_thresholds)
    assert found == ["EFA rdmap16s27/1: rx_drops rose by 5000"]


def test_monitor_takes_a_baseline_then_reports_rises(tmp_path: Path) -> None:
    monitor = EfaMonitor(RULES, tmp_path)
    write(tmp_path, "rdmap16s27/ports/1/hw_counters/rdma_write_wr_err", "0")
    assert monitor.poll(NOW) == []
    write(tmp_path, "rdmap16s27/ports/1/hw_counters/rdma_write_wr_err", "2")
    faults = monitor.poll(NOW)
    assert [(f.rule, f.action, f.message) for f in faults] == [
        ("efa/efa-work-request-errors", Action.WARNING, "EFA rdmap16s27/1: rdma_write_wr_err rose by 2")]
    assert monitor.poll(NOW) == []  # no further rise
