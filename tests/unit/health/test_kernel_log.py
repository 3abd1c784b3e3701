"""parse_record: kmsg records, continuation lines, syslog and journal lines, bare kernel stamps."""
from __future__ import annotations

import pytest

from hyperpod_deps.health.kernel_log import KernelLog, Origin, is_continuation, parse_record

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


# Real lines, each from the public source named beside it, through every format the parser knows.
@pytest.mark.parametrize(("raw", "expected"), [
    # journalctl (short) with a host: leptonai/gpud pull request #1209.
    ("Feb 14 05:03:41 000-000-00000-1-gpu-1 kernel: mlx5_core 0000:ab:00.0 mlx5_5: Port: 1 Link INIT",
     KernelLog("mlx5_core 0000:ab:00.0 mlx5_5: Port: 1 Link INIT", None, None, None, CLAIMED)),
    # Syslog lines without a host field (as `journalctl --no-hostname` writes them): the report
    # "Connection errors with ISER IO", target-devel mailing list, 2020-02-26.
    ("Feb 26 18:49:47 kernel: scsi host6: iSCSI Initiator over iSER",
     KernelLog("scsi host6: iSCSI Initiator over iSER", None, None, None, CLAIMED)),
    ("Feb 26 18:49:55 iscsid: Could not set session20 priority. READ/WRITE throughout and latency could be "
     "affected.", KernelLog("Could not set session20 priority. READ/WRITE throughout and latency could be "
                            "affected.", None, None, None, USER)),
    # ... and rsyslog's "#012" for a newline within the record, same report.
    ("Feb 26 19:00:43 kernel: #012Showing all locks held in the system:",
     KernelLog("Showing all locks held in the system:", None, None, None, CLAIMED)),
    # `journalctl -o short-iso` and `short-iso-precise`: systemd/systemd pull request #29134.
    ("2023-09-08T17:20:30+0200 tarta r710_fan_controller.sh[20911]: Highest drive temperature: 43 Celcius.",
     KernelLog("Highest drive temperature: 43 Celcius.", None, None, None, USER)),
    ("2023-09-08T17:20:30.655028+0200 tarta r710_fan_controller.sh[20911]: Highest drive temperature: 43 "
     "Celcius.", KernelLog("Highest drive temperature: 43 Celcius.", None, None, None, USER)),
    # RFC 3339 stamp without a host: rsyslog/rsyslog issue #4595.
    ("2021-06-01T08:13:11.077924-04:00 kernel: [   13.918461] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link "
     "becomes ready", KernelLog("IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready", None, None,
                                13918461, CLAIMED)),
    # `journalctl -o short-monotonic`: systemd/systemd issues #22554 and #30054.
    ("[ 4274.089861] fovo.local kernel: ACPI: EC: interrupt blocked",
     KernelLog("ACPI: EC: interrupt blocked", None, None, 4274089861, CLAIMED)),
    ("[   20.888224] localhost systemd[1]: Hostname set to <localhost>.",
     KernelLog("Hostname set to <localhost>.", None, None, 20888224, USER)),
    # ... and the same with --no-hostname.
    ("[ 4274.089861] kernel: ACPI: EC: interrupt blocked",
     KernelLog("ACPI: EC: interrupt blocked", None, None, 4274089861, CLAIMED)),
    # `dmesg -T`: leptonai/gpud pull request #46.
    ("[Fri Aug 30 11:43:14 2024] NVRM: Xid (PCI:0000:cb:00): 109, pid=1797828, name=pt_main_thread, Ch "
     "00000008, errorString CTX SWITCH TIMEOUT, Info 0x58005",
     KernelLog("NVRM: Xid (PCI:0000:cb:00): 109, pid=1797828, name=pt_main_thread, Ch 00000008, errorString "
               "CTX SWITCH TIMEOUT, Info 0x58005", None, None, None)),
    # ... with a one-digit day: sulao.cn/post/1165.
    ("[Mon Feb 2 22:52:45 2026] nvidia-nvswitch2: SXid (PCI:0000:07:00.0): 12028, Non-fatal",
     KernelLog("nvidia-nvswitch2: SXid (PCI:0000:07:00.0): 12028, Non-fatal", None, None, None)),
    # dmesg and its indented continuation lines: NVIDIA/NVSentinel issue #155.
    ("[ 1843.308145] NVRM: The NVIDIA GPU 0000:b3:00.0",
     KernelLog("NVRM: The NVIDIA GPU 0000:b3:00.0", None, None, 1843308145)),
    ("               NVRM: fallen off the bus and is not responding to commands.",
     KernelLog("NVRM: fallen off the bus and is not responding to commands.", None, None, None)),
    # The kernel's \x0a escape, kept by sysklogd in its files: troglobit/sysklogd pull request #51.
    ("Jun  9 17:28:14 slack kernel: Kernel parameter elevator= does not have any effect anymore.\\x0aPlease "
     "use sysfs to set IO scheduler for individual devices.",
     KernelLog("Kernel parameter elevator= does not have any effect anymore.\nPlease use sysfs to set IO "
               "scheduler for individual devices.", None, None, None, CLAIMED)),
    # ... and in a kmsg record, before its dictionary (Documentation/ABI/testing/dev-kmsg).
    ("5,421,1234567,-;Kernel parameter elevator= does not have any effect anymore.\\x0aPlease use sysfs\n"
     " SUBSYSTEM=block\n",
     KernelLog("Kernel parameter elevator= does not have any effect anymore.\nPlease use sysfs", 5, 421,
               1234567, K)),
    # `dmesg --decode --time-format iso`: leptonai/gpud pull request #870; the facility says user space.
    ("syslog:err   : 2025-05-27T04:18:56,089671+00:00 NVRM: Xid (PCI:0000:04:00): 79, GPU has fallen off "
     "the bus",
     KernelLog("NVRM: Xid (PCI:0000:04:00): 79, GPU has fallen off the bus", None, None, None, USER)),
    ("kern  :err   : [ 1843.308145] NVRM: The NVIDIA GPU 0000:b3:00.0",
     KernelLog("NVRM: The NVIDIA GPU 0000:b3:00.0", None, None, 1843308145)),
    # A user's message, `logger`'s default tag being the user's name: rsyslog/rsyslog issue #1138.
    ("Aug 23 13:50:39 ghetto saken: HELLO", KernelLog("HELLO", None, None, None, USER)),
    # CR LF line endings.
    ("Feb 26 18:49:47 kernel: scsi host6: iSCSI Initiator over iSER\r\n",
     KernelLog("scsi host6: iSCSI Initiator over iSER", None, None, None, CLAIMED)),
])
def test_real_formats(raw: str, expected: KernelLog) -> None:
    assert parse_record(raw) == expected


# `journalctl -o json`: one object a line. Field values of a kernel entry from
# parse-nl/SystemdJournal2Gelf (SystemdJournal2Gelf_test.go); the cron entry and the byte-array
# MESSAGE are systemd's own examples (systemd/systemd docs/JOURNAL_EXPORT_FORMATS.md).
JOURNAL_KERNEL = (
    '{"MESSAGE":"Linux version 4.20.6-arch1-1-ARCH (builduser@heftig-32156) (gcc version 8.2.1 20181127 '
    '(GCC)) #1 SMP PREEMPT Thu Jan 31 08:22:01 UTC 2019","PRIORITY":"5","__REALTIME_TIMESTAMP":'
    '"1549067421724300","_TRANSPORT":"kernel","SYSLOG_FACILITY":"0","SYSLOG_IDENTIFIER":"kernel",'
    '"_HOSTNAME":"machine.nl","_BOOT_ID":"61c0e40c739f4f009c785cef13b46e17"}')
JOURNAL_CRON = (
    '{ "__MONOTONIC_TIMESTAMP" : "21415221039", "_TRANSPORT" : "syslog", "PRIORITY" : "6", '
    '"SYSLOG_FACILITY" : "9", "SYSLOG_IDENTIFIER" : "/USR/SBIN/CROND", "SYSLOG_PID" : "8278", '
    '"MESSAGE" : "(root) CMD (run-parts /etc/cron.hourly)" }')


def test_journal_json() -> None:
    kernel = parse_record(JOURNAL_KERNEL)
    assert kernel is not None and kernel.origin is K and kernel.level == 5 and kernel.facility == 0
    assert kernel.message.startswith("Linux version 4.20.6-arch1-1-ARCH")
    cron = KernelLog("(root) CMD (run-parts /etc/cron.hourly)", 9 << 3 | 6, None, 21415221039, USER)
    assert parse_record(JOURNAL_CRON) == cron
    source_stamp = parse_record('{"MESSAGE":"x","_TRANSPORT":"kernel","_SOURCE_MONOTONIC_TIMESTAMP":"150",'
                                '"__MONOTONIC_TIMESTAMP":"151"}')
    assert source_stamp == KernelLog("x", None, None, 150, K)
    # json-seq (`-o json-seq`) puts an RS before each entry.
    assert parse_record("\x1e" + JOURNAL_KERNEL) == kernel


def test_journal_json_message_as_bytes_or_several_values() -> None:
    xid = list(b"NVRM: Xid (PCI:0000:01:00): 79, \xff")
    record = parse_record('{"MESSAGE":' + str(xid) + ',"_TRANSPORT":"kernel"}')
    assert record == KernelLog("NVRM: Xid (PCI:0000:01:00): 79, \ufffd", None, None, None, K)
    several = parse_record('{"MESSAGE":["a",[98],null],"_TRANSPORT":"kernel"}')
    assert several is not None and several.message == "a\nb"  # null: a value journalctl left out
    assert parse_record('{"MESSAGE":null,"_TRANSPORT":"kernel"}') == KernelLog("", None, None, None, K)


@pytest.mark.parametrize("fields", [
    '"_TRANSPORT":"kernel","SYSLOG_FACILITY":"3"',  # user space writing to /dev/kmsg, read by journald
    '"_TRANSPORT":"syslog","SYSLOG_IDENTIFIER":"kernel"',  # logger -t kernel
    '"_TRANSPORT":"journal"', '"_TRANSPORT":"stdout"', "",
    '"_TRANSPORT":["kernel","syslog"]', '"_TRANSPORT":"kernel","SYSLOG_FACILITY":["0","1"]',
    '"_TRANSPORT":"kernel","SYSLOG_FACILITY":0',  # journalctl writes strings; anything else is not it
])
def test_journal_json_not_the_kernel(fields: str) -> None:
    extra = "," + fields if fields else ""
    record = parse_record('{"MESSAGE":"NVRM: Xid (PCI:0000:01:00): 79, x"' + extra + "}")
    assert record is not None and record.origin is USER


@pytest.mark.parametrize("raw", ['{"MESSAGE"', '{"no message": 1}', "{" * 5000 + "}" * 5000, '["MESSAGE"]',
                                 '{"MESSAGE":"x","PRIORITY":"' + "9" * 5000 + '"}'])
def test_json_near_misses_are_plain_text(raw: str) -> None:
    record = parse_record(raw)
    assert record is not None and record.origin in (Origin.UNKNOWN, USER)


@pytest.mark.parametrize(("raw", "origin"), [
    # Near misses of the kernel's formats that must not read as the kernel.
    ("Feb 26 18:49:47 kernel[12]: NVRM: Xid", USER),  # the kernel has no pid
    ("Feb 26 18:49:47 host kernelx: NVRM: Xid", USER),
    ("Feb 26 18:49:47 host ec2-user: kernel: NVRM: Xid", USER),  # logger "kernel: ..."
    ("Feb 26 18:49:47 host a message without a tag", USER),
    ("May 18 19:02:39 kernel: NVRM: Xid (PCI:0000:2b:00): 79, GPU has fallen off the bus.", CLAIMED),
    ("[ 5.1] python3[1234]: segfault at 0 ip 0 sp 0 error 4", Origin.UNKNOWN),  # the kernel's own
    ("[ 5.1] pci 0000:00:01.0: [8086:1234] type 00 class 0x060000", Origin.UNKNOWN),
    ("[Fri Aug 30 11:43:14 2024 NVRM: no closing bracket", Origin.UNKNOWN),
    ("2021-06-01T08:13:11,077924-04:00 kernel: x", Origin.UNKNOWN),  # dmesg --time-format iso: not syslog
    ("30,7,8,-;kernel: NVRM: Xid", USER),
    ("Lockdep #012: held", Origin.UNKNOWN),
    ("audit:info: not a dmesg facility", Origin.UNKNOWN),
])
def test_near_misses(raw: str, origin: Origin) -> None:
    record = parse_record(raw)
    assert record is not None and record.origin is origin


def test_lockdep_numbers_are_not_rsyslog_escapes() -> None:
    # Old lockdep output numbers its locks "#011:", "#012:" (linux-kernel list, 2005).
    record = parse_record("Nov 17 22:44:44 verena kernel: #012:             [c053ff3c]")
    assert record is not None and record.message == "#012:             [c053ff3c]"


def test_continuation_lines() -> None:
    assert is_continuation("               NVRM: fallen off the bus") and is_continuation(b"\tx")
    assert not is_continuation("[ 1843.308145] NVRM: The NVIDIA GPU") and not is_continuation("")
