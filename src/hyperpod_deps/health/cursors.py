"""Where each log source stopped reading, kept in small files in the agent's state directory.

The state directory is a host path in the chart, so a restarted agent (a new pod) resumes where
the previous one stopped: lines written while it was down are read once, not lost and not
read twice. A directory that cannot be written is logged once and the agent goes on without
it (starting at the end of each source after a restart), never crashing.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Warn = Callable[[str], None]


@dataclass(frozen=True)
class FileCursor:
    """A position in one incarnation of a file (device + inode), after a complete line."""

    device: int
    inode: int
    offset: int


@dataclass(frozen=True)
class KmsgCursor:
    """The last kernel record read, by sequence number, in one boot (sequence numbers restart)."""

    boot_id: str
    seq: int


@dataclass(frozen=True)
class JournalCursor:
    """The last journal entry read: its sequence (seqnum_id), sequence number and wall-clock time.

    Sequence numbers go on across rotated files of one sequence; the time orders a new sequence
    (a journal started afresh) after the old one, and skips what the new one holds from before.
    """

    seqnum_id: str
    seqnum: int
    realtime: int


Cursor = FileCursor | KmsgCursor | JournalCursor


class CursorStore:
    def __init__(self, directory: Path, warn: Warn) -> None:
        self.directory = directory
        self._warn = warn
        self._broken = False

    def load_file(self, source: str) -> FileCursor | None:
        data = self._read(source)
        try:
            return FileCursor(int(data["device"]), int(data["inode"]), int(data["offset"])) if data else None
        except (KeyError, TypeError, ValueError):
            return None

    def load_kmsg(self, source: str) -> KmsgCursor | None:
        data = self._read(source)
        try:
            return KmsgCursor(str(data["boot_id"]), int(data["seq"])) if data else None
        except (KeyError, TypeError, ValueError):
            return None

    def load_journal(self, source: str) -> JournalCursor | None:
        data = self._read(source)
        try:
            return JournalCursor(str(data["seqnum_id"]), int(data["seqnum"]), int(data["realtime"])) \
                if data else None
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, source: str, cursor: Cursor) -> None:
        path = self._path(source)
        partial = path.with_name(f".{path.name}.partial")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps({"source": source, **asdict(cursor)}) + "\n")
            partial.replace(path)  # atomic: a crash leaves the old cursor or the new one
        except OSError as error:
            if not self._broken:
                self._warn(f"cannot keep read positions in {self.directory}: {error}; after a restart "
                           "the agent starts at the end of each source")
            self._broken = True

    def _read(self, source: str) -> dict[str, Any] | None:
        try:
            loaded = json.loads(self._path(source).read_text())
        except (OSError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) and loaded.get("source") == source else None

    def _path(self, source: str) -> Path:
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        return self.directory / f"cursor-{digest}.json"


def boot_id(path: Path = Path("/proc/sys/kernel/random/boot_id")) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def file_identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino
