"""Parse one kernel log record: a /dev/kmsg record or a plain syslog / journal line.

Pure and total: any input, garbage or binary or cut short, gives a KernelLog or None, never
an exception, because the agent reads whatever the node writes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# /dev/kmsg: "PRIORITY,SEQ,TIMESTAMP_US,FLAGS[,...];MESSAGE" (Documentation/ABI/testing/dev-kmsg).
_KMSG = re.compile(r"(\d{1,10}),(\d{1,20}),(\d{1,20})(?:,[^;]*)?;(.*)", re.DOTALL)
# Continuation lines of a kmsg record carry its dictionary: " SUBSYSTEM=pci", " DEVICE=+pci:...".
_CONTINUATION = re.compile(r" [A-Z_][A-Z0-9_]*=")
# "Nov 28 12:00:01 host kernel: ..." (RFC 3164; journalctl's short-precise adds ".123456") or
# "2024-11-28T12:00:01.5+00:00 host kernel: ..." (RFC 3339).
_SYSLOG = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r" \S+ (?P<tag>[^:\s]+): ?(?P<message>.*)",
    re.DOTALL,
)
# The kernel's own "[ 1234.567890] " monotonic stamp, at the start of the message.
_STAMP = re.compile(r"\[\s*(\d{1,12})(?:\.(\d{1,9}))?\]\s?(.*)", re.DOTALL)


class Origin(StrEnum):
    """Who wrote a record, as far as its source can prove it. Only KERNEL may drive an action
    in the agent: anyone on the node can write the other kinds (`logger`, an application's log)."""

    KERNEL = "kernel"  # proven: a /dev/kmsg record of facility 0, journald's kernel transport
    CLAIMED_KERNEL = "claimed-kernel"  # a text line tagged `kernel:`; `logger -t kernel` forges it
    USERSPACE = "userspace"  # proven not the kernel: another facility, program tag or transport
    UNKNOWN = "unknown"  # no header to tell (a bare message, dmesg output)


@dataclass(frozen=True)
class KernelLog:
    message: str
    priority: int | None  # kmsg PRIORITY: facility << 3 | level
    sequence: int | None
    timestamp_us: int | None  # microseconds since boot
    origin: Origin = Origin.UNKNOWN

    @property
    def facility(self) -> int | None:
        """The syslog facility (0 kern, 1 user, ...), without the level bits."""
        return None if self.priority is None else self.priority >> 3

    @property
    def level(self) -> int | None:
        """The syslog level (0 emerg ... 7 debug), without the facility bits."""
        return None if self.priority is None else self.priority & 7


def parse_record(raw: str | bytes) -> KernelLog | None:
    """One record or line; None for blank lines and kmsg continuation lines."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.rstrip("\r\n")
    if not text.strip() or _CONTINUATION.match(text):
        return None
    kmsg = _KMSG.fullmatch(text)
    if kmsg:
        priority, sequence, timestamp, message = kmsg.groups()
        # The kernel forces facility 1 (user) on records written to /dev/kmsg from user space.
        origin = Origin.KERNEL if int(priority) >> 3 == 0 else Origin.USERSPACE
        return KernelLog(message.strip(), int(priority), int(sequence), int(timestamp), origin)
    syslog = _SYSLOG.fullmatch(text)
    if syslog:
        origin = Origin.CLAIMED_KERNEL if syslog.group("tag") == "kernel" else Origin.USERSPACE
        return _with_stamp(syslog.group("message"), origin)
    return _with_stamp(text, Origin.UNKNOWN)


def _with_stamp(text: str, origin: Origin) -> KernelLog:
    stamp = _STAMP.fullmatch(text)
    if not stamp:
        return KernelLog(text.strip(), None, None, None, origin)
    seconds, fraction, message = stamp.groups()
    micros = int(((fraction or "") + "000000")[:6])
    return KernelLog(message.strip(), None, None, int(seconds) * 1_000_000 + micros, origin)
