"""Kernel records from the host's systemd journal files, read directly (no journalctl, no root).

API, mirroring LogTailer:

    reader = JournalReader(Path("/var/log/journal"), saved)  # saved: JournalCursor | None
    records = reader.read()   # list[KernelLog], at most `chunk` entries examined per call
    reader.backlog            # True when more is waiting: call read() again without pausing
    reader.cursor             # JournalCursor | None: save it once the records up to here are handled
    reader.unreadable         # entries whose MESSAGE is compressed in a way it cannot decode

`directory` is a journal directory (`/var/log/journal/<machine-id>/`) or the one above it; then
the machine-id directory with the most recently written `system.journal` is followed. Files read:
`system.journal` (the live one), its rotated archives `system@....journal` and the `.journal~`
files journald sets aside when it finds one unclean; user journals cannot hold kernel records.

Order and position: every entry has a sequence number, and a sequence (seqnum_id) goes on across
rotations, so the cursor is (seqnum_id, seqnum, realtime) of the last entry read, and the next
entry is the first with a larger seqnum in the file of that sequence that holds it. After a
rotation, or a restart, that finds the rest of the archived file first, then its successor. A
sequence that ended (the journal was started afresh, e.g. its files were deleted) is followed by
the next sequence by time, skipping its entries from before the cursor's time. First start (no
cursor): from the end, like the other sources; a journal that appears later is read from its start.

Origin: journald records what it read from /dev/kmsg with `_TRANSPORT=kernel` (a trusted field no
client can set) and `SYSLOG_FACILITY` from the record's priority (src/journal/journald-kmsg.c).
The kernel stores records that user space writes to /dev/kmsg with facility 1 (user) at least, so
facility 0 proves the kernel; journald before the field was added for kernel records wrote none
for them (and always one for the others), so a missing facility on the kernel transport is also
the kernel. Everything else is USERSPACE and must not drive an action.

The reader does not wait by itself: the agent wakes it through inotify on the journal folders
(health/file_events.py; journald makes its mmap writes visible to inotify on purpose), and polls
it where inotify cannot watch them.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.health.cursors import JournalCursor
from hyperpod_deps.health.journal_file import Header, JournalEntry, JournalError, JournalFile
from hyperpod_deps.health.kernel_log import KernelLog, Origin
from hyperpod_deps.health.watchers import MAX_LINE

Warn = Callable[[str], None]

POLL_SECONDS = 1.0
CHUNK = 1000  # entries examined per read(), so one call stays short on a large backlog
LIVE = "system.journal"
FIELDS = frozenset({"MESSAGE", "_TRANSPORT", "SYSLOG_FACILITY", "PRIORITY", "SYSLOG_IDENTIFIER",
                    "_SOURCE_MONOTONIC_TIMESTAMP"})
_MACHINE_ID = re.compile(r"[0-9a-f]{32}")
_LOG_USER = 1  # journald's own fix-up for records without a facility (not the kernel transport)


@dataclass(frozen=True)
class _Found:
    path: Path
    header: Header


class JournalReader:
    def __init__(self, directory: Path, saved: JournalCursor | None, *, warn: Warn | None = None,
                 chunk: int = CHUNK, kernel_only: bool = False) -> None:
        self.directory = directory
        self.chunk = chunk
        self.kernel_only = kernel_only  # skip other records here (they still move the cursor)
        self.backlog = False
        self.unreadable = 0
        self.broken = 0  # entries that could not be read at all (a damaged file)
        self._warn = warn or (lambda _message: None)
        self._warned: set[str] = set()
        self._cursor = saved
        self._file: JournalFile | None = None
        self._index = 0
        self._skip_until: int | None = None  # entering a new sequence: its entries up to this time
        self._finished: set[str] = set()  # file ids of archived files read to their end
        self._dir = self._resolve()
        if saved is None:
            self._cursor = self._end()

    @property
    def cursor(self) -> JournalCursor | None:
        return self._cursor

    def read(self) -> list[KernelLog]:
        records: list[KernelLog] = []
        budget = self.chunk
        while budget > 0 and self._has_more():
            assert self._file is not None
            while budget > 0 and self._index < self._file.header.n_entries:
                budget -= 1
                record = self._take(self._file, self._index)
                self._index += 1
                if record is not None:
                    records.append(record)
        self.backlog = budget == 0
        return records

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _take(self, file: JournalFile, index: int) -> KernelLog | None:
        try:
            entry = file.entry(index, FIELDS, MAX_LINE)
        except JournalError as error:
            self.broken += 1
            self._warn_once(f"{file.path}: entry {index} unreadable, skipped: {error}")
            return None
        previous = self._cursor.realtime if self._cursor is not None else 0
        self._cursor = JournalCursor(entry.seqnum_id, entry.seqnum, max(previous, entry.realtime))
        if self._skip_until is not None:
            if entry.realtime <= self._skip_until:
                return None
            self._skip_until = None
        if "MESSAGE" not in entry.fields and entry.unreadable:
            self.unreadable += 1
            self._warn_once(f"{file.path}: a compressed message could not be decoded; skipped")
            return None
        record = to_kernel_log(entry)
        return None if self.kernel_only and record.origin is not Origin.KERNEL else record

    def _has_more(self) -> bool:
        """Whether the open file (after the next one is chosen, if need be) has unread entries."""
        file = self._file
        if file is not None:
            try:
                file.refresh()
            except JournalError as error:
                self._warn_once(f"{file.path}: {error}")
                self.close()
                file = None
        if file is not None:
            if self._index < file.header.n_entries:
                return True
            if self._is_live(file):
                return False  # caught up
            self._finished.add(file.header.file_id)  # rotated or set aside: nothing is appended to it
        return self._select()

    def _select(self) -> bool:
        """Open the file that holds the entry after the cursor; False when there is none yet."""
        self._dir = self._resolve()
        found = [f for f in self._scan() if f.header.file_id not in self._finished and f.header.n_entries]
        cursor = self._cursor
        index, skip_until = 0, None
        if cursor is None:  # nothing read and nothing there at the start: this sequence from its start
            live = [f for f in found if f.path.name == LIVE]
            newest = max(live or found, key=lambda f: f.header.tail_realtime, default=None)
            sequence = newest.header.seqnum_id if newest is not None else None
            candidates = [f for f in found if f.header.seqnum_id == sequence]
        else:
            candidates = [f for f in found
                          if f.header.seqnum_id == cursor.seqnum_id and f.header.tail_seqnum > cursor.seqnum]
            if not candidates:
                live = [f for f in found if f.path.name == LIVE and f.header.seqnum_id == cursor.seqnum_id]
                if live:  # caught up: hold the live file open so that idle turns do not list the directory
                    self._hold(live[0], cursor)
                    return False
                candidates = self._next_sequence(found, cursor)
                skip_until = cursor.realtime
        if not candidates:
            return False
        chosen = min(candidates, key=lambda f: f.header.head_seqnum)
        if self._file is not None and self._file.header.file_id == chosen.header.file_id:
            return False  # the cursor is at its end already
        try:
            opened = JournalFile(chosen.path)
            if cursor is not None and opened.header.seqnum_id == cursor.seqnum_id:
                index = opened.first_after(cursor.seqnum)
        except JournalError as error:
            self._warn_once(f"{chosen.path}: {error}")
            self._finished.add(chosen.header.file_id)  # not again: the next turn goes past it
            return False
        self.close()
        self._file, self._index, self._skip_until = opened, index, skip_until
        return True

    def _hold(self, live: _Found, cursor: JournalCursor) -> None:
        if self._file is not None and self._file.header.file_id == live.header.file_id:
            return
        try:
            opened = JournalFile(live.path)
            index = opened.first_after(cursor.seqnum)
        except JournalError as error:
            self._warn_once(f"{live.path}: {error}")
            return
        self.close()
        self._file, self._index, self._skip_until = opened, index, None

    @staticmethod
    def _next_sequence(found: list[_Found], cursor: JournalCursor) -> list[_Found]:
        later = [f for f in found if f.header.tail_realtime > cursor.realtime]
        if not later:
            return []
        first = min(later, key=lambda f: f.header.head_realtime).header.seqnum_id
        return [f for f in later if f.header.seqnum_id == first]

    def _end(self) -> JournalCursor | None:
        found = [f for f in self._scan() if f.header.n_entries or f.header.tail_seqnum]
        if not found:
            return None
        live = [f for f in found if f.path.name == LIVE]
        newest = max(live or found, key=lambda f: (f.header.tail_realtime, f.header.tail_seqnum))
        latest = max(f.header.tail_realtime for f in found)  # later than anything now on disk
        return JournalCursor(newest.header.seqnum_id, newest.header.tail_seqnum, latest)

    def _scan(self) -> list[_Found]:
        found = []
        for path in self._files():
            try:
                file = JournalFile(path)
            except JournalError as error:
                self._warn_once(f"{path}: {error}")
                continue
            found.append(_Found(path, file.header))
            file.close()
        return found

    def _files(self) -> list[Path]:
        try:
            names = os.listdir(self._dir)
        except FileNotFoundError:
            return []  # not there yet: read from its start once it is
        except OSError as error:  # a pod without the journal's group: say so, it reads nothing
            self._warn_once(f"{self._dir}: cannot list the journal: {error}")
            return []
        return [self._dir / name for name in sorted(names)
                if name == LIVE or (name.startswith("system@") and name.endswith((".journal", ".journal~")))]

    def _resolve(self) -> Path:
        """The machine-id directory when given the one above it (the most recently written)."""
        best: tuple[float, Path] | None = None
        try:  # unreadable (no group to read it with) is answered by read(), with a warning
            if (self.directory / LIVE).exists() or any(self.directory.glob("system@*.journal")):
                return self.directory
            children = [child for child in self.directory.iterdir() if _MACHINE_ID.fullmatch(child.name)]
        except OSError:
            return self.directory
        for child in children:
            try:
                written = (child / LIVE).stat().st_mtime
            except FileNotFoundError:
                continue
            except OSError as error:
                self._warn_once(f"{child}: cannot read the journal: {error}")
                continue
            if best is None or written > best[0]:
                best = (written, child)
        return best[1] if best is not None else self.directory

    def _is_live(self, file: JournalFile) -> bool:
        try:
            stat = os.stat(self._dir / LIVE)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == file.identity and not file.header.archived

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._warn(message)


def to_kernel_log(entry: JournalEntry) -> KernelLog:
    fields = entry.fields
    kernel_transport = fields.get("_TRANSPORT") == b"kernel"
    facility = _number(fields.get("SYSLOG_FACILITY"))
    level = _number(fields.get("PRIORITY"))
    kernel = kernel_transport and facility in (0, None)
    if facility is None:
        facility = 0 if kernel else _LOG_USER
    priority = None if level is None or level > 7 else facility << 3 | level
    stamp = _number(fields.get("_SOURCE_MONOTONIC_TIMESTAMP"))  # the kernel's own time of the record
    message = fields.get("MESSAGE", b"")[:MAX_LINE].decode("utf-8", errors="replace")
    return KernelLog(message.strip(), priority, entry.seqnum, entry.monotonic if stamp is None else stamp,
                     Origin.KERNEL if kernel else Origin.USERSPACE)


def _number(value: bytes | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 19:
        return None
    return int(value)
