"""classify_lines over mixed logs, and to_fault."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.classify import Classification, classify_lines, to_fault
from hyperpod_deps.health.rules import Match, RuleSet

RULES = RuleSet.load()
LOG = [
    b"6,1,100,-;Linux version 6.1.0",
    b" SUBSYSTEM=pci",
    "3,2,200,-;NVRM: Xid (PCI:0000:b9:00): 79, pid=1, name=x, GPU has fallen off the bus.",
    b"\xff\xfe garbage \x00",
    "Nov 28 12:00:01 h kernel: [ 3.0] INFO: task python3:7 blocked for more than 120 seconds.",
    "",
]


def test_every_line_is_classified_in_order_with_none_for_unmatched() -> None:
    found = list(classify_lines(RULES, LOG))
    assert [c.line_number for c in found] == [1, 2, 3, 4, 5, 6]
    assert [c.action for c in found] == [Action.NONE, Action.NONE, Action.REPLACE, Action.NONE,
                                         Action.WARNING, Action.NONE]
    assert found[0] == Classification(1, "Linux version 6.1.0", None, None, None, Action.NONE)
    assert found[2].rule == "xid-79" and found[2].fault_type == "NvidiaGPUUnhealthy"
    assert found[2].text.startswith("NVRM: Xid") and found[3].text == "\ufffd\ufffd garbage \x00"
    assert (found[4].rule, found[4].reason) == ("hung-task", "KernelDeadlock")


def test_matched_only_skips_the_rest_but_keeps_line_numbers() -> None:
    found = list(classify_lines(RULES, LOG, matched_only=True))
    assert [(c.line_number, c.rule) for c in found] == [(3, "xid-79"), (5, "hung-task")]


def test_another_source_uses_its_own_rules() -> None:
    lines = ["GPU count 7, expected 8", "NVRM: Xid (PCI:0000:b9:00): 79, x"]
    found = list(classify_lines(RULES, lines, source="nvml", matched_only=True))
    assert [(c.line_number, c.rule) for c in found] == [(1, "gpu-count")]


def test_to_fault_stamps_utc_and_qualifies_the_rule() -> None:
    match = Match("xid-79", "NvidiaGPUUnhealthy", "XidHardwareFailure", Action.REPLACE, "NVRM: Xid ...")
    fault = to_fault(match, datetime(2024, 11, 28, 13, 0, 1, 999, tzinfo=timezone(timedelta(hours=1))))
    assert fault.timestamp == "2024-11-28T12:00:01Z"
    assert (fault.rule, fault.source, fault.action) == ("kmsg/xid-79", "kmsg", Action.REPLACE)
    assert fault.details() == {"timestamp": "2024-11-28T12:00:01Z", "type": "NvidiaGPUUnhealthy",
                               "reason": "XidHardwareFailure", "message": "NVRM: Xid ..."}
    nvml = to_fault(Match("gpu-count", "NvidiaGPUUnhealthy", "GpuCountMismatch", Action.REBOOT, "m", "nvml"),
                    datetime(2024, 1, 1, tzinfo=UTC))
    assert nvml.rule == "nvml/gpu-count" and nvml.source == "nvml"
