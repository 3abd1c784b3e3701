"""Raw records from the node's kernel log: a log-file tailer and a /dev/kmsg reader.

They only read and hand out bytes (parsing and matching are the rules' job). Each knows its
position (`cursor`) after the last record it returned; the agent saves it once the faults
found up to there are written, so a restart neither loses nor repeats a line.
"""
from __future__ import annotations

import contextlib
import os
import select
from pathlib import Path
from typing import BinaryIO, Protocol

from hyperpod_deps.health.cursors import FileCursor, KmsgCursor, file_identity

MAX_LINE = 64 * 1024  # longer "lines" (binary garbage) are cut, never buffered without bound
READ_CHUNK = 256 * 1024


class LogTailer:
    """Follows appends to one file across rotation (rename + new file) and truncation.

    First start (no cursor): from the end. With a cursor of the same file: from there (from 0 if
    it shrank). With a cursor of a file rotated away while the agent was down: the rest of that
    file first, if it is still at `<path>.1`, then the new file from its start.
    """

    def __init__(self, path: Path, saved: FileCursor | None) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0  # bytes consumed through the last complete line
        self._pending = b""  # a line still being written
        self._cutting = False  # the start of an over-long line went out: drop the rest of it
        self._draining: list[bytes] = []
        self.backlog = False  # the last read stopped at READ_CHUNK with more to come
        self._start(saved)

    @property
    def cursor(self) -> FileCursor | None:
        if self._identity is None:
            return None
        return FileCursor(self._identity[0], self._identity[1], self._offset)

    def read(self) -> list[bytes]:
        """Every complete line appended since the last call (at most a chunk per file)."""
        lines, self._draining = self._draining, []
        try:
            current = file_identity(os.stat(self.path))
        except OSError:
            current = None  # rotated away and not recreated yet: finish what is open
        if self._file is not None and current is not None and current != self._identity:
            lines += self._drain()
        if self._file is None and current is not None:
            self._open(0)
        if self._file is not None:
            if current == self._identity and os.fstat(self._file.fileno()).st_size < self._offset:
                self._file.seek(0)  # truncated (copytruncate): the file starts over
                self._offset, self._pending = 0, b""
            chunk = self._file.read(READ_CHUNK)
            # A full chunk means more is waiting: the caller reads again at once instead of
            # pausing, so a burst of lines is read at the parser's speed, not the poll's.
            self.backlog = len(chunk) == READ_CHUNK
            lines += self._lines(chunk)
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _start(self, saved: FileCursor | None) -> None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return  # appears later: read from its start
        if saved is None:
            self._open(stat.st_size)
        elif (saved.device, saved.inode) == file_identity(stat):
            self._open(saved.offset if saved.offset <= stat.st_size else 0)
        else:
            self._draining = self._rest_of_rotated(saved)
            self._open(0)

    def _rest_of_rotated(self, saved: FileCursor) -> list[bytes]:
        rotated = self.path.with_name(self.path.name + ".1")
        try:
            with rotated.open("rb") as old:
                if file_identity(os.fstat(old.fileno())) != (saved.device, saved.inode):
                    return []
                old.seek(saved.offset)
                return [line[:MAX_LINE] for line in old.read().split(b"\n") if line]
        except OSError:
            return []

    def _open(self, offset: int) -> None:
        try:
            handle = self.path.open("rb")
        except OSError:
            return
        self._file, self._identity = handle, file_identity(os.fstat(handle.fileno()))
        handle.seek(offset)
        self._offset, self._pending, self._cutting = offset, b"", False

    def _drain(self) -> list[bytes]:
        """The rest of a file that was rotated away, then let it go."""
        assert self._file is not None
        lines: list[bytes] = []
        while chunk := self._file.read(READ_CHUNK):
            lines += self._lines(chunk)
        last = self._take_pending()  # its last line will get no newline now
        lines += [] if self._cutting or not last else [last[:MAX_LINE]]
        self._cutting = False
        self.close()
        self._identity = None
        return lines

    def _take_pending(self) -> bytes:
        pending, self._pending = self._pending, b""
        return pending

    def _lines(self, data: bytes) -> list[bytes]:
        """Complete lines, each cut at MAX_LINE. The rest of a cut line is dropped, not handed out
        as lines of its own: text deep inside a line could otherwise pose as a record's header."""
        *complete, self._pending = (self._pending + data).split(b"\n")
        self._offset += sum(len(line) + 1 for line in complete)
        lines = []
        for line in complete:
            if self._cutting:  # the tail of the line whose start already went out
                self._cutting = False
            elif line:
                lines.append(line[:MAX_LINE])
        if len(self._pending) > MAX_LINE:  # no newline in sight: hand out its start, skip the rest
            self._offset += len(self._pending)
            pending = self._take_pending()
            if not self._cutting:
                lines.append(pending[:MAX_LINE])
                self._cutting = True
        return lines


class KmsgDevice(Protocol):
    """/dev/kmsg: one record per read; EAGAIN when none waits; EPIPE when records were lost."""

    def read_record(self) -> bytes | None: ...
    def wait(self, timeout: float) -> bool: ...
    def seek_end(self) -> None: ...
    def close(self) -> None: ...


class KmsgFile:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    def read_record(self) -> bytes | None:
        try:
            return os.read(self._fd, 8192)
        except BlockingIOError:
            return None

    def wait(self, timeout: float) -> bool:
        return bool(select.select([self._fd], [], [], timeout)[0])

    def seek_end(self) -> None:
        os.lseek(self._fd, 0, os.SEEK_END)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class KmsgReader:
    """Kernel records, in order, each once.

    First start (no cursor): from the end of the ring buffer. Same boot as the cursor: every
    record after its sequence number. A new boot: the whole buffer, so faults logged while the
    node booted (before the agent ran) are seen, which is what recovery after a reboot needs.
    """

    def __init__(self, device: KmsgDevice, boot: str, saved: KmsgCursor | None) -> None:
        self.device = device
        self.boot = boot
        self.overruns = 0
        self._seq = saved.seq if saved is not None and saved.boot_id == boot else -1
        if saved is None:
            device.seek_end()

    @property
    def cursor(self) -> KmsgCursor:
        return KmsgCursor(self.boot, self._seq)

    def read(self, timeout: float, limit: int = 1000) -> list[bytes]:
        records: list[bytes] = []
        if not self.device.wait(timeout):
            return records
        while len(records) < limit:
            try:
                record = self.device.read_record()
            except BrokenPipeError:
                self.overruns += 1  # the ring buffer wrapped past us; go on with what is left
                continue
            if record is None:
                break
            seq = _sequence(record)
            if seq is not None and seq <= self._seq:
                continue  # read before the restart
            self._seq = seq if seq is not None else self._seq
            records.append(record)
        return records


def _sequence(record: bytes) -> int | None:
    prefix = record.split(b";", 1)[0].split(b",")
    try:
        return int(prefix[1])
    except (IndexError, ValueError):
        return None
