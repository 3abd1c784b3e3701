"""Journal files written by systemd's own writer (systemd-journal-remote, from the export format),
for the tests of the journal source: real files, not ones this project's reader was written from.
The writer is the demo's (hyperpod_deps.demo.host_journal); the records below only tests need."""
from __future__ import annotations

import pytest

from hyperpod_deps.demo import host_journal

REMOTE = host_journal.WRITER
needs_remote = pytest.mark.skipif(
    not REMOTE.exists(), reason=f"{REMOTE} is absent (Debian package systemd-journal-remote; "
                                "`make host-packages` installs it)")
BOOT = host_journal.BOOT
Record = host_journal.Record
export = host_journal.export
write_journal = host_journal.write
kernel = host_journal.kernel


def user_kmsg(message: str) -> dict[str, str]:
    """What journald records for a line a program wrote to /dev/kmsg: the kernel made it facility 1."""
    return {"MESSAGE": message, "_TRANSPORT": "kernel", "SYSLOG_FACILITY": "1", "PRIORITY": "5",
            "SYSLOG_IDENTIFIER": "forger"}


def logger_line(message: str, user: str = "ec2-user") -> dict[str, str]:
    """What journald records for `logger MESSAGE` run by `user`: the syslog transport, tagged with
    the user name, facility 1 (user)."""
    return {"MESSAGE": message, "_TRANSPORT": "syslog", "SYSLOG_FACILITY": "1", "PRIORITY": "5",
            "SYSLOG_IDENTIFIER": user}
