"""Kernel log lines for a real node: records in a systemd journal file of the host, written by
systemd's own writer (`systemd-journal-remote`, Debian package systemd-journal-remote) from the
journal export format. The chart's open health agent pod reads the host's `/var/log/journal`
through its hostPath, as on a node whose journald recorded the kernel's line.

The demo's journal is a machine-id folder of its own under /var/log/journal (the agent follows
the most recently written one); `remove` deletes it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

WRITER = Path("/lib/systemd/systemd-journal-remote")
JOURNAL = Path("/var/log/journal")
BOOT = "0123456789abcdef0123456789abcdef"
Record = Mapping[str, str | bytes]


class JournalUnavailable(RuntimeError):
    """systemd's journal writer is missing: the message names the package."""


FIXED_REALTIME = 1_700_000_000_000_000  # microseconds: the same file from the same records


def export(records: Sequence[Record], start: int = 0, realtime: int = FIXED_REALTIME) -> bytes:
    """The journal export format; values as binary fields, so any byte and newline survive.
    `realtime`: the first record's wall-clock time, microseconds."""
    out = bytearray()
    for number, record in enumerate(records, start):
        out += f"__REALTIME_TIMESTAMP={realtime + number}\n".encode()
        out += f"__MONOTONIC_TIMESTAMP={5_000_000 + number}\n_BOOT_ID={BOOT}\n".encode()
        for name, value in record.items():
            raw = value.encode() if isinstance(value, str) else value
            out += name.encode() + b"\n" + len(raw).to_bytes(8, "little") + raw + b"\n"
        out += b"\n"
    return bytes(out)


def write(path: Path, records: Sequence[Record], *, start: int = 0, compact: bool = True,
          compress: bool = True, realtime: int = FIXED_REALTIME) -> Path:
    """Write (or append to) the journal file `path` with systemd's writer."""
    if not WRITER.exists():
        raise JournalUnavailable(f"{WRITER} is missing: apt-get install systemd-journal-remote")
    env = {**os.environ, "SYSTEMD_JOURNAL_COMPACT": "1" if compact else "0", "SYSTEMD_LOG_LEVEL": "err"}
    subprocess.run([str(WRITER), f"--output={path}", f"--compress={'yes' if compress else 'no'}", "-"],
                   input=export(records, start, realtime), env=env, check=True, capture_output=True,
                   timeout=60)
    return path


def kernel(message: str) -> dict[str, str]:
    """What journald records for a line the kernel logged (the kernel transport, facility 0)."""
    return {"MESSAGE": message, "_TRANSPORT": "kernel", "SYSLOG_FACILITY": "0", "PRIORITY": "3",
            "SYSLOG_IDENTIFIER": "kernel"}


def append_kernel_line(folder: Path, message: str) -> Path:
    """A kernel record stamped now in `folder`/system.journal (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder / "system.journal", [kernel(message)], realtime=time.time_ns() // 1000)


def remove(folder: Path) -> None:
    if folder.parent == JOURNAL:  # only a machine-id folder of the host's journal, never more
        shutil.rmtree(folder, ignore_errors=True)
