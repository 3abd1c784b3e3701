"""classify_lines over mixed logs, and to_fault."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.classify import Classification, Matcher, classify_lines, to_fault
from hyperpod_deps.health.kernel_log import KernelLog, Origin
from hyperpod_deps.health.rules import Match, RuleSet
from hyperpod_deps.health.trust import NOT_THE_KERNEL, Trust

RULES = RuleSet.load()
LOG: list[str | bytes] = [
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
    assert found[0] == Classification(1, "Linux version 6.1.0", None, None, None, Action.NONE, Origin.KERNEL)
    assert found[1].origin is None  # a kmsg dictionary line is no record
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


XID = "NVRM: Xid (PCI:0000:01:00): 79, pid=1, name=x, GPU has fallen off the bus."


def test_a_user_written_xid_is_reported_without_action() -> None:
    # `logger "NVRM: Xid ..."` as rsyslog files it: the tag is the user's name.
    lines = [f"May 18 19:02:39 node ec2-user: {XID}", f"May 18 19:02:39 node kernel: {XID}", f"[ 5.1] {XID}",
             f"11,5,6,-;{XID}", f"3,5,6,-;{XID}"]
    found = list(classify_lines(RULES, lines))
    assert [(c.rule, c.action, c.origin) for c in found] == [
        ("xid-79", Action.NONE, Origin.USERSPACE), ("xid-79", Action.REPLACE, Origin.CLAIMED_KERNEL),
        ("xid-79", Action.REPLACE, Origin.UNKNOWN), ("xid-79", Action.NONE, Origin.USERSPACE),
        ("xid-79", Action.REPLACE, Origin.KERNEL)]
    assert [c.note for c in found] == [NOT_THE_KERNEL, None, None, NOT_THE_KERNEL, None]


def test_a_continuation_line_takes_the_origin_of_its_record() -> None:
    # journalctl indents the further lines of a multi-line message under its header.
    lines = ["May 18 19:02:39 node ec2-user[77]: first line", f"    {XID}",
             "[ 1843.308145] NVRM: The NVIDIA GPU 0000:b3:00.0", f"               {XID}", f"  {XID}"]
    found = list(classify_lines(RULES, lines, matched_only=True))
    assert [(c.line_number, c.origin, c.action) for c in found] == [
        (2, Origin.USERSPACE, Action.NONE), (4, Origin.UNKNOWN, Action.REPLACE),
        (5, Origin.UNKNOWN, Action.REPLACE)]
    first = list(classify_lines(RULES, [f"  {XID}"], trust=Trust.KERNEL_TAG))
    assert first[0].origin is Origin.UNKNOWN and first[0].action is Action.NONE


def test_a_journal_entry_whose_message_is_bytes_is_matched() -> None:
    line = '{"_TRANSPORT":"kernel","MESSAGE":' + str(list(XID.encode() + b"\xff")) + "}"
    found = list(classify_lines(RULES, [line, line.encode()], matched_only=True))
    assert [(c.rule, c.action, c.origin) for c in found] == [("xid-79", Action.REPLACE, Origin.KERNEL)] * 2


def test_trust_per_source() -> None:
    cases = {f"3,5,6,-;{XID}": Origin.KERNEL, f"May 18 19:02:39 node kernel: {XID}": Origin.CLAIMED_KERNEL,
             f"[ 5.1] {XID}": Origin.UNKNOWN, f"May 18 19:02:39 node ec2-user: {XID}": Origin.USERSPACE}
    trusted = {trust: {origin for line, origin in cases.items() if (v := Matcher(RULES, trust).line(line))
                       and v.trusted} for trust in Trust}
    assert trusted == {
        Trust.KERNEL: {Origin.KERNEL}, Trust.KERNEL_TAG: {Origin.KERNEL, Origin.CLAIMED_KERNEL},
        Trust.NOTHING: set(),
        Trust.ANALYSIS: {Origin.KERNEL, Origin.CLAIMED_KERNEL, Origin.UNKNOWN}}


def test_matcher_takes_parsed_records() -> None:
    matcher = Matcher(RULES, Trust.KERNEL)
    verdict = matcher.record(KernelLog(XID, 3, None, None, Origin.KERNEL))
    assert verdict.trusted and verdict.match is not None and verdict.match.rule == "xid-79"
    forged = matcher.record(KernelLog(XID, 11, None, None, Origin.USERSPACE))
    assert not forged.trusted and forged.match is not None
    assert matcher.record(KernelLog("nothing to see", None, None, None, Origin.KERNEL)).match is None
