"""Journal files written by systemd's own writer (systemd-journal-remote, from the export format),
for the tests of the journal source: real files, not ones this project's reader was written from."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REMOTE = Path("/lib/systemd/systemd-journal-remote")
needs_remote = pytest.mark.skipif(
    not REMOTE.exists(), reason=f"{REMOTE} is absent (Debian package systemd-journal-remote; "
                                "`make host-packages` installs it)")
BOOT = "0123456789abcdef0123456789abcdef"
Record = Mapping[str, str | bytes]


FIXED_REALTIME = 1_700_000_000_000_000  # microseconds: the same files every run


def export(records: Sequence[Record], start: int = 0, realtime: int = FIXED_REALTIME) -> bytes:
    """The journal export format; values as binary fields, so any byte and newline survive."""
    out = bytearray()
    for number, record in enumerate(records, start):
        out += f"__REALTIME_TIMESTAMP={realtime + number}\n".encode()
        out += f"__MONOTONIC_TIMESTAMP={5_000_000 + number}\n_BOOT_ID={BOOT}\n".encode()
        for name, value in record.items():
            raw = value.encode() if isinstance(value, str) else value
            out += name.encode() + b"\n" + len(raw).to_bytes(8, "little") + raw + b"\n"
        out += b"\n"
    return bytes(out)


def write_journal(path: Path, records: Sequence[Record], *, start: int = 0, compact: bool = True,
                  compress: bool = True, realtime: int = FIXED_REALTIME) -> Path:
    """Write (or append to) `path` with systemd's journal writer; `realtime` is the first
    record's wall-clock time in microseconds."""
    env = {**os.environ, "SYSTEMD_JOURNAL_COMPACT": "1" if compact else "0", "SYSTEMD_LOG_LEVEL": "err"}
    subprocess.run([str(REMOTE), f"--output={path}", f"--compress={'yes' if compress else 'no'}", "-"],
                   input=export(records, start, realtime), env=env, check=True, capture_output=True,
                   timeout=60)
    return path


def kernel(message: str) -> dict[str, str]:
    return {"MESSAGE": message, "_TRANSPORT": "kernel", "SYSLOG_FACILITY": "0", "PRIORITY": "3",
            "SYSLOG_IDENTIFIER": "kernel"}


def user_kmsg(message: str) -> dict[str, str]:
    """What journald records for a line a program wrote to /dev/kmsg: the kernel made it facility 1."""
    return {"MESSAGE": message, "_TRANSPORT": "kernel", "SYSLOG_FACILITY": "1", "PRIORITY": "5",
            "SYSLOG_IDENTIFIER": "forger"}


def logger_line(message: str, user: str = "ec2-user") -> dict[str, str]:
    """What journald records for `logger MESSAGE` run by `user`: the syslog transport, tagged with
    the user name, facility 1 (user)."""
    return {"MESSAGE": message, "_TRANSPORT": "syslog", "SYSLOG_FACILITY": "1", "PRIORITY": "5",
            "SYSLOG_IDENTIFIER": user}
