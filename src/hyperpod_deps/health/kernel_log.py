"""Parse one kernel log record: a /dev/kmsg record, a syslog or journalctl line, or journal JSON.

Pure and total: any input, garbage or binary or cut short, gives a KernelLog or None, never
an exception, because the agent reads whatever the node writes.

The header is parsed only to learn who wrote the record (`Origin`) and to strip it from the
message the rules see; only a header the kernel itself controls can prove a kernel origin.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from enum import StrEnum

# /dev/kmsg: "PRIORITY,SEQ,TIMESTAMP_US,FLAGS[,...];MESSAGE" (Documentation/ABI/testing/dev-kmsg).
# The message ends at the first raw newline: what follows is the record's dictionary
# (" SUBSYSTEM=pci"), newlines within the message are escaped as \x0a.
_KMSG = re.compile(r"(\d{1,10}),(\d{1,20}),(\d{1,20})(?:,[^;\n]*)?;([^\n]*)(?:\n.*)?", re.DOTALL)
# Continuation lines of a kmsg record carry its dictionary: " SUBSYSTEM=pci", " DEVICE=+pci:...".
_DICTIONARY = re.compile(r" [A-Z_][A-Z0-9_]*=")
# The stamp of a syslog or journalctl line: "Nov 28 12:00:01" (RFC 3164, `short`; `short-precise`
# adds ".123456") or "2024-11-28T12:00:01+0000" (RFC 3339 of rsyslog, `short-iso[-precise]`).
_WALL_CLOCK = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?) (?P<rest>.*)",
    re.DOTALL,
)
# After the stamp: an optional host (never ending in ':', so that `--no-hostname` output does not
# read the tag as a host) and the tag, "ident:" or "ident[pid]:".
_TAGGED = re.compile(
    r"(?:(?P<host>\S*[^\s:]) )?(?P<tag>[^\s:\[\]]+)(?P<pid>\[\d{1,10}\])?: ?(?P<message>.*)", re.DOTALL)
# `dmesg -T`: "[Fri Aug 30 11:43:09 2024] message".
_CTIME = re.compile(r"\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4}\] ?(?P<message>.*)",
                    re.DOTALL)
# `dmesg --decode` (-x) puts the record's facility and level first: "kern  :err   : ...".
_DECODED = re.compile(
    r"(?P<facility>kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local[0-7]) *:"
    r"(?:emerg|alert|crit|err|warn|notice|info|debug) *: (?P<rest>.*)", re.DOTALL)
# `dmesg --time-format iso`: "2025-05-27T04:18:56,089671+00:00 " (a comma: never a syslog stamp).
_DMESG_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{6}[+-]\d\d:\d\d (?P<message>.*)",
                        re.DOTALL)
# The kernel's own "[ 1234.567890] " monotonic stamp (dmesg, and `journalctl -o short-monotonic`).
_STAMP = re.compile(r"\[\s*(\d{1,12})(?:\.(\d{1,9}))?\]\s?(.*)", re.DOTALL)
# The kernel escapes bytes it will not print as \xNN; sysklogd keeps the escapes in its files.
_KMSG_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")
# rsyslog writes a newline or tab within a message as "#012" / "#011". Lockdep's own
# "#012:" lock numbers look the same, so those are left alone.
_RSYSLOG_ESCAPE = re.compile(r"#01([12])(?!:)")
_JOURNAL_NUMBER = re.compile(r"\d{1,20}")


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


def is_continuation(raw: str | bytes) -> bool:
    """An indented line: dmesg and journalctl print the further lines of a multi-line record so.
    It belongs to the record before it, and has no header of its own to tell its origin."""
    return raw[:1] in (" ", "\t", b" ", b"\t")


def parse_record(raw: str | bytes) -> KernelLog | None:
    """One record or line; None for blank lines and kmsg dictionary lines."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.rstrip("\r\n")
    if not text.strip() or _DICTIONARY.match(text):
        return None
    kmsg = _KMSG.fullmatch(text)
    if kmsg:
        priority, sequence, timestamp, message = kmsg.groups()
        # The kernel forces facility 1 (user) on records written to /dev/kmsg from user space.
        origin = Origin.KERNEL if int(priority) >> 3 == 0 else Origin.USERSPACE
        return KernelLog(_unescape_kmsg(message).strip(), int(priority), int(sequence), int(timestamp),
                         origin)
    if text.startswith(("{", "\x1e{")):  # journalctl -o json (json-seq puts RS before each)
        record = _journal_json(text.lstrip("\x1e"))
        if record is not None:
            return record
    wall = _WALL_CLOCK.fullmatch(text)
    if wall:
        return _syslog(wall.group("rest"))
    decoded = _DECODED.fullmatch(text)
    if decoded:
        # dmesg decoded the record's own facility: anything but kern was written by user space.
        record = _dmesg(decoded.group("rest"))
        return record if decoded.group("facility") == "kern" else replace(record, origin=Origin.USERSPACE)
    return _dmesg(text)


def _dmesg(text: str) -> KernelLog:
    """A dmesg line: a `-T` or `--time-format iso` stamp, the monotonic one, or none."""
    wall = _CTIME.fullmatch(text) or _DMESG_ISO.fullmatch(text)
    if wall:
        return KernelLog(wall.group("message").strip(), None, None, None)
    return _with_stamp(text)


def _syslog(rest: str) -> KernelLog:
    tagged = _TAGGED.fullmatch(rest)
    if tagged is None:  # a stamped line without a tag: whoever wrote it, it is not tagged kernel
        return KernelLog(_unescape_rsyslog(rest).strip(), None, None, None, Origin.USERSPACE)
    if tagged.group("tag") == "kernel" and tagged.group("pid") is None:
        record = _with_stamp(_unescape_kmsg(_unescape_rsyslog(tagged.group("message"))))
        return KernelLog(record.message, None, None, record.timestamp_us, Origin.CLAIMED_KERNEL)
    return KernelLog(_unescape_rsyslog(tagged.group("message")).strip(), None, None, None, Origin.USERSPACE)


def _with_stamp(text: str) -> KernelLog:
    """A bare message, maybe after the kernel's monotonic stamp; `journalctl -o short-monotonic`
    puts a host and tag after that stamp, which only some lines show apart from dmesg's."""
    stamp = _STAMP.fullmatch(text)
    if not stamp:
        return KernelLog(text.strip(), None, None, None)
    seconds, fraction, message = stamp.groups()
    micros = int(seconds) * 1_000_000 + int(((fraction or "") + "000000")[:6])
    tagged = _TAGGED.fullmatch(message)
    if tagged and tagged.group("tag") == "kernel" and tagged.group("pid") is None:
        return KernelLog(_unescape_kmsg(tagged.group("message")).strip(), None, None, micros,
                         Origin.CLAIMED_KERNEL)
    # "host program[pid]: ..." is a journal line of a program. Without the host it is not told
    # apart: the kernel itself prints "python3[1234]: segfault at ...".
    if tagged and tagged.group("host") and tagged.group("pid"):
        return KernelLog(tagged.group("message").strip(), None, None, micros, Origin.USERSPACE)
    return KernelLog(message.strip(), None, None, micros)


def _journal_json(text: str) -> KernelLog | None:
    """A `journalctl -o json` entry; None when the line is no JSON object with a MESSAGE."""
    try:
        entry = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or "MESSAGE" not in entry:
        return None
    facility_field = entry.get("SYSLOG_FACILITY")
    # journald reads user-space records from /dev/kmsg too (facility 1 and up) and stores them
    # with the kernel transport: the transport alone does not prove the kernel.
    kernel = entry.get("_TRANSPORT") == "kernel" and facility_field in (None, "0")
    level = _journal_int(entry.get("PRIORITY"), 7)
    facility = _journal_int(facility_field, 23)
    priority = None if level is None else (facility or 0) << 3 | level
    timestamp = _journal_int(entry.get("_SOURCE_MONOTONIC_TIMESTAMP"))
    if timestamp is None:
        timestamp = _journal_int(entry.get("__MONOTONIC_TIMESTAMP"))
    message = _journal_text(entry.get("MESSAGE")).strip()
    return KernelLog(message, priority, None, timestamp, Origin.KERNEL if kernel else Origin.USERSPACE)


def _journal_text(value: object) -> str:
    """A journal field: a string; an array of byte values where it is not printable UTF-8; an
    array of those where the field has several values; null where journalctl left it out."""
    if isinstance(value, list) and not _is_bytes(value):
        return "\n".join(_journal_value(item) for item in value)
    return _journal_value(value)


def _journal_value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and _is_bytes(value):
        return bytes(value).decode("utf-8", errors="replace")
    return ""


def _is_bytes(values: list[object]) -> bool:
    return all(isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255 for item in values)


def _journal_int(value: object, highest: int | None = None) -> int | None:
    if not isinstance(value, str) or not _JOURNAL_NUMBER.fullmatch(value):
        return None
    number = int(value)
    return None if highest is not None and number > highest else number


def _unescape_kmsg(message: str) -> str:
    if "\\x" not in message:
        return message
    # The escapes stand for bytes (a UTF-8 character is escaped byte by byte), so decode as bytes.
    data = _KMSG_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), message.encode("utf-8", "surrogatepass"))
    return data.decode("utf-8", errors="replace")


def _unescape_rsyslog(message: str) -> str:
    if "#01" not in message:
        return message
    return _RSYSLOG_ESCAPE.sub(lambda m: "\n" if m.group(1) == "2" else "\t", message)
