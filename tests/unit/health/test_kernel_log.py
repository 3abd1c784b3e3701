"""parse_record: kmsg records, continuation lines, syslog and journal lines, bare kernel stamps."""
from __future__ import annotations

import pytest

from hyperpod_deps.health.kernel_log import KernelLog, parse_record

XID = "NVRM: Xid (PCI:0000:b9:00): 79, pid=1, name=x, GPU has fallen off the bus."


@pytest.mark.parametrize(("raw", "expected"), [
    # kmsg: PRIORITY,SEQ,TIMESTAMP_US,FLAGS;MESSAGE. PRIORITY carries the facility bits.
    (f"3,1234,5678901234,-;{XID}", KernelLog(XID, 3, 1234, 5678901234)),
    (f"6,1,2,c,extra,fields;{XID}\n", KernelLog(XID, 6, 1, 2)),
    (f"30,7,8,-;{XID}".encode(), KernelLog(XID, 30, 7, 8)),
    ("6,1,2,-;", KernelLog("", 6, 1, 2)),
    ("6,1,2,-;a;b;c", KernelLog("a;b;c", 6, 1, 2)),
    # RFC 3164 syslog (/var/log/messages), with and without the kernel's own stamp.
    (f"Nov 28 12:00:01 ip-10-1-2-3 kernel: [ 1234.567890] {XID}", KernelLog(XID, None, None, 1234567890)),
    (f"Nov  2 03:04:05 host kernel: {XID}", KernelLog(XID, None, None, None)),
    (f"Nov 28 12:00:01.123456 host kernel: {XID}", KernelLog(XID, None, None, None)),  # short-precise
    ("Nov 28 12:00:01 host systemd[1]: Started x.", KernelLog("Started x.", None, None, None)),
    # RFC 3339 stamps (rsyslog's high-precision format, journalctl -o short-iso).
    (f"2024-11-28T12:00:01.123456+00:00 host kernel: {XID}", KernelLog(XID, None, None, None)),
    (f"2024-11-28T12:00:01Z host kernel: [   5.1] {XID}", KernelLog(XID, None, None, 5100000)),
    (f"2024-11-28T12:00:01+0100 host kernel: {XID}", KernelLog(XID, None, None, None)),
    # A bare dmesg line.
    (f"[   12.000001] {XID}", KernelLog(XID, None, None, 12000001)),
    ("[12] x", KernelLog("x", None, None, 12000000)),
    # Anything else is a message as it stands.
    ("plain text\r\n", KernelLog("plain text", None, None, None)),
    ("12,34;not kmsg", KernelLog("12,34;not kmsg", None, None, None)),
    ("[ 1.5 no closing bracket", KernelLog("[ 1.5 no closing bracket", None, None, None)),
])
def test_parse(raw: str | bytes, expected: KernelLog) -> None:
    assert parse_record(raw) == expected


@pytest.mark.parametrize("raw", ["", "\n", "   ", " SUBSYSTEM=pci", " DEVICE=+pci:0000:b9:00.0\n",
                                 b" DRIVER=nvidia"])
def test_blank_and_continuation_lines_are_none(raw: str | bytes) -> None:
    assert parse_record(raw) is None


def test_level_drops_the_facility_bits() -> None:
    record = parse_record("30,1,2,-;x")  # facility 3 (daemon), level 6 (info)
    assert record is not None and record.level == 6
    plain = parse_record("x")
    assert plain is not None and plain.level is None


def test_undecodable_bytes_are_replaced() -> None:
    record = parse_record(b"6,1,2,-;NVRM: \xff\xfe Xid")
    assert record is not None and record.message == "NVRM: \ufffd\ufffd Xid"
