"""Wake-ups when a followed log changes, from inotify, so an idle source sleeps instead of polling.

A source that follows files (a log file, the journal's files) waits here between reads: inotify
on the folders that hold them wakes it as soon as one of its files is written, created, renamed
or deleted, which covers appends, rotation and truncation alike. The folder is watched rather
than the file, so a file rotated away or not yet created needs no new watch. journald writes its
files through mmap, which inotify does not see, but it truncates each file to its own size after
writing precisely so that readers get this event (systemd's journal_file_post_change).

inotify is Linux's, called through ctypes on libc (the standard library has no binding). Where
it cannot be had (no libc symbol, out of watches, a folder missing), `watch` returns None and
the source polls as before. A file system whose writes arrive from elsewhere (NFS, FUSE) reports
only local writes: RECHECK_SECONDS bounds how late such a write is read.
"""
from __future__ import annotations

import ctypes
import os
import select
import struct
from collections.abc import Iterable
from pathlib import Path

IN_MODIFY = 0x002
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
CHANGES = IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
# With inotify, a read this often even without an event: the bound on a missed change.
RECHECK_SECONDS = 10.0
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then the name, NUL-padded


class FileEvents:
    """An inotify instance watching some folders, for the names in them that matter."""

    def __init__(self, descriptor: int, names: dict[int, frozenset[bytes] | None]) -> None:
        self._fd = descriptor
        self._names = names  # watch descriptor -> names that count (None: any)

    def wait(self, timeout: float) -> bool:
        """Block until a change to a followed name, or `timeout`; whether there was one.
        Every event waiting is consumed: a burst of appends is one wake-up."""
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return False
        changed = False
        while True:
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                return changed
            changed = changed or self._matters(data)

    def close(self) -> None:
        """Once; a second call does nothing (the descriptor's number may already be another's)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _matters(self, data: bytes) -> bool:
        offset, found = 0, False
        while offset + _HEADER.size <= len(data):
            descriptor, mask, _, length = _HEADER.unpack_from(data, offset)
            name = data[offset + _HEADER.size:offset + _HEADER.size + length].rstrip(b"\0")
            offset += _HEADER.size + length
            names = self._names.get(descriptor)
            if mask & IN_Q_OVERFLOW or names is None or name in names:
                found = True  # an overflow lost events: read, to be sure
        return found


def watch(folders: Iterable[tuple[Path, Iterable[str] | None]]) -> FileEvents | None:
    """inotify on each folder, waking for changes to the given names in it (None: any name);
    None where inotify cannot watch all of them (the caller then polls)."""
    libc = _libc()
    if libc is None:
        return None
    descriptor = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if descriptor < 0:
        return None
    names: dict[int, frozenset[bytes] | None] = {}
    for folder, wanted in folders:
        watch_descriptor = libc.inotify_add_watch(descriptor, os.fsencode(folder), CHANGES)
        if watch_descriptor < 0:
            os.close(descriptor)  # ENOENT, ENOSPC (the node's watch limit), EACCES: poll instead
            return None
        names[watch_descriptor] = None if wanted is None else frozenset(os.fsencode(n) for n in wanted)
    return FileEvents(descriptor, names)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc

