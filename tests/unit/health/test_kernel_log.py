"""parse_record: kmsg records, continuation lines, syslog and journal lines, bare kernel stamps."""
from __future__ import annotations

import pytest

from hyperpod_deps.health.kernel_log import KernelLog, Origin, parse_record

K, CLAIMED, USER = Origin.KERNEL, Origin.CLAIMED_KERNEL, Origin.USERSPACE

XID = "NVRM: Xid (PCI:0000:b9:00): 79, pid=1, name=x, GPU has fallen off the bus."


@pytest.mark.parametrize(("raw", "expected"), [
    # kmsg: PRIORITY,SEQ,TIMESTAMP_US,FLAGS;MESSAGE. PRIORITY carries the facility bits: 0 is the
    # kernel, anything else was written by user space.
    (f"3,1234,5678901234,-;{XID}", KernelLog(XID, 3, 1234, 5678901234, K)),
    (f"6,1,2,c,extra,fields;{XID}\n", KernelLog(XID, 6, 1, 2, K)),
    (f"30,7,8,-;{XID}".encode(), KernelLog(XID, 30, 7, 8, USER)),
    ("6,1,2,-;", KernelLog("", 6, 1, 2, K)),
    ("6,1,2,-;a;b;c", KernelLog("a;b;c", 6, 1, 2, K)),
    # RFC 3164 syslog (/var/log/messages), with and without the kernel's own stamp.
    (f"Nov 28 12:00:01 ip-1 kernel: [ 1234.567890] {XID}", KernelLog(XID, None, None, 1234567890, CLAIMED)),
    (f"Nov  2 03:04:05 host kernel: {XID}", KernelLog(XID, None, None, None, CLAIMED)),
    (f"Nov 28 12:00:01.123456 host kernel: {XID}", KernelLog(XID, None, None, None, CLAIMED)),  # precise
    ("Nov 28 12:00:01 host systemd[1]: Started x.", KernelLog("Started x.", None, None, None, USER)),
    # RFC 3339 stamps (rsyslog's high-precision format, journalctl -o short-iso).
    (f"2024-11-28T12:00:01.123456+00:00 host kernel: {XID}", KernelLog(XID, None, None, None, CLAIMED)),
    (f"2024-11-28T12:00:01Z host kernel: [   5.1] {XID}", KernelLog(XID, None, None, 5100000, CLAIMED)),
    (f"2024-11-28T12:00:01+0100 host kernel: {XID}", KernelLog(XID, None, None, None, CLAIMED)),
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


@pytest.mark.parametrize(("raw", "origin"), [
    ("3,5,6,-;NVRM: Xid (PCI:0000:01:00): 79, x", Origin.KERNEL),
    ("11,5,6,-;NVRM: Xid (PCI:0000:01:00): 79, x", Origin.USERSPACE),  # `echo ... > /dev/kmsg`
    ("Nov 28 12:00:01 host kernel: NVRM: Xid (PCI:0000:01:00): 79, x", Origin.CLAIMED_KERNEL),
    ("Nov 28 12:00:01 host ec2-user: NVRM: Xid (PCI:0000:01:00): 79, x", Origin.USERSPACE),  # logger
    ("NVRM: Xid (PCI:0000:01:00): 79, x", Origin.UNKNOWN),
])
def test_origin(raw: str, origin: Origin) -> None:
    record = parse_record(raw)
    assert record is not None and record.origin is origin
