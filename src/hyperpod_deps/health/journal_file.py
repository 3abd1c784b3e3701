"""Read one systemd journal file (`*.journal`), read-only, without systemd's libraries.

Layout facts are from systemd's docs/JOURNAL_FILE_FORMAT.md and journal-def.h: a header (signature
"LPKSHHRH", little-endian fields), then 8-byte aligned objects, each starting with type, flags and
size. Entries are found through the header's entry-array chain, which lists every entry of the
file in the order it was appended (and so by sequence number). Compact files (the default since
systemd 252) store 32-bit offsets in entries and entry arrays, and their data objects carry two
more fields before the payload.

journald appends while we read: only the first `n_entries` slots of the entry-array chain are
complete (an entry is written before it is linked and counted), so that is all we read, and the
header is re-read on each `refresh()`. Every offset is checked against the arena before it is
followed and chains must move forward, so a truncated or garbage file gives a JournalError, never
another exception and never an endless loop.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.health.journal_compress import decompress

SIGNATURE = b"LPKSHHRH"
HEADER_READ = 272  # the header as of systemd 254; older files have a shorter one (header_size)
MIN_HEADER = 208  # through tail_entry_monotonic: every field this reader uses
STATE_ARCHIVED = 2

INCOMPATIBLE_XZ, INCOMPATIBLE_LZ4, INCOMPATIBLE_KEYED_HASH = 1, 2, 4
INCOMPATIBLE_ZSTD, INCOMPATIBLE_COMPACT = 8, 16
SUPPORTED_INCOMPATIBLE = (INCOMPATIBLE_XZ | INCOMPATIBLE_LZ4 | INCOMPATIBLE_KEYED_HASH | INCOMPATIBLE_ZSTD
                          | INCOMPATIBLE_COMPACT)

OBJECT_DATA, OBJECT_ENTRY, OBJECT_ENTRY_ARRAY = 1, 3, 6
OBJECT_HEADER = 16  # type u8, flags u8, 6 reserved, size le64
ENTRY_FIXED = 64  # object header, seqnum, realtime, monotonic, boot id (16), xor hash
ARRAY_FIXED = 24  # object header, next_entry_array_offset
MAX_ENTRY = 1 << 20  # an entry of 65536 fields is far beyond journald's own limits
MAX_COMPRESSED = 8 << 20
PEEK = 4096  # one read covers most data objects whole
CACHE_LIMIT = 4096  # data objects are shared between entries (_TRANSPORT=kernel is stored once)
CACHE_VALUE = 256


class JournalError(Exception):
    """This file cannot be read (or not at this point): bad header, offset or object."""


@dataclass(frozen=True)
class Header:
    incompatible: int
    state: int
    file_id: str
    seqnum_id: str
    header_size: int
    arena_size: int
    n_entries: int
    tail_seqnum: int
    head_seqnum: int
    entry_array_offset: int
    head_realtime: int
    tail_realtime: int

    @property
    def compact(self) -> bool:
        return bool(self.incompatible & INCOMPATIBLE_COMPACT)

    @property
    def end(self) -> int:
        return self.header_size + self.arena_size

    @property
    def archived(self) -> bool:
        return self.state == STATE_ARCHIVED


@dataclass(frozen=True)
class JournalEntry:
    seqnum: int
    seqnum_id: str
    realtime: int  # microseconds since the epoch
    monotonic: int  # microseconds since boot, of boot_id
    boot_id: str
    fields: dict[str, bytes]  # only the fields asked for; a value is cut at the value limit
    unreadable: int = 0  # compressed fields it could not decode (name unknown, so maybe MESSAGE)


def parse_header(raw: bytes, file_size: int) -> Header:
    if len(raw) < MIN_HEADER or raw[:8] != SIGNATURE:
        raise JournalError("not a journal file (signature or size)")
    incompatible = int.from_bytes(raw[12:16], "little")
    unknown = incompatible & ~SUPPORTED_INCOMPATIBLE
    if unknown:
        raise JournalError(f"unsupported incompatible flags {unknown:#x} (a newer journal format)")
    header_size, arena_size = struct.unpack_from("<QQ", raw, 88)
    (n_entries, tail_seqnum, head_seqnum, array_offset, head_realtime,
     tail_realtime) = struct.unpack_from("<QQQQQQ", raw, 152)
    if header_size < MIN_HEADER or header_size % 8 or arena_size % 8:
        raise JournalError(f"bad header size {header_size} or arena size {arena_size}")
    if header_size + arena_size > file_size:
        raise JournalError(f"header and arena ({header_size + arena_size} bytes) exceed the file "
                           f"({file_size} bytes): truncated")
    if n_entries and not header_size <= array_offset < header_size + arena_size:
        raise JournalError(f"entry array offset {array_offset} outside the arena")
    return Header(incompatible, raw[16], raw[24:40].hex(), raw[72:88].hex(), header_size, arena_size,
                  n_entries, tail_seqnum, head_seqnum, array_offset, head_realtime, tail_realtime)


@dataclass
class _Array:
    offset: int
    first: int  # global index of its first item
    capacity: int


class JournalFile:
    """One open journal file. Entries are addressed by index, 0 ... header.n_entries - 1."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise JournalError(f"cannot open: {error.strerror}") from error
        stat = os.fstat(self._fd)
        self.identity = (stat.st_dev, stat.st_ino)
        self._arrays: list[_Array] = []
        self._cache: dict[int, tuple[str, bytes | None, bool]] = {}
        self._cache_fields: Collection[str] = ()
        try:
            self.header = self._read_header()
        except JournalError:
            self.close()
            raise

    def refresh(self) -> Header:
        """Re-read the header: journald moves n_entries and the tail while it appends."""
        header = self._read_header()
        if (header.seqnum_id, header.file_id) != (self.header.seqnum_id, self.header.file_id):
            raise JournalError("the file was replaced under us")
        self.header = header
        return header

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def first_after(self, seqnum: int) -> int:
        """The index of the first entry with a larger sequence number (n_entries if none)."""
        low, high = 0, self.header.n_entries
        while low < high:  # entries are appended in sequence-number order
            middle = (low + high) // 2
            if self.seqnum_at(middle) <= seqnum:
                low = middle + 1
            else:
                high = middle
        return low

    def seqnum_at(self, index: int) -> int:
        offset = self._entry_offset(index)
        raw = self._object(offset, OBJECT_ENTRY, ENTRY_FIXED, ENTRY_FIXED)
        return int.from_bytes(raw[16:24], "little")

    def entry(self, index: int, fields: Collection[str], value_limit: int) -> JournalEntry:
        """The entry at `index` with those of `fields` it has (the first value of each)."""
        offset = self._entry_offset(index)
        size = self._object_size(offset, OBJECT_ENTRY, ENTRY_FIXED, MAX_ENTRY)
        raw = self._object(offset, OBJECT_ENTRY, ENTRY_FIXED, size)
        seqnum, realtime, monotonic = struct.unpack_from("<QQQ", raw, 16)
        item, fmt = (4, "<I") if self.header.compact else (16, "<Q")  # compact: no hash per item
        found: dict[str, bytes] = {}
        unreadable = 0
        for position in range(ENTRY_FIXED, size - item + 1, item):
            (data_offset,) = struct.unpack_from(fmt, raw, position)
            name, value, broken = self._data(data_offset, fields, value_limit)
            unreadable += broken
            if value is not None and name not in found:
                found[name] = value
        return JournalEntry(seqnum, self.header.seqnum_id, realtime, monotonic, raw[40:56].hex(), found,
                            unreadable)

    def _read_header(self) -> Header:
        try:
            raw = os.pread(self._fd, HEADER_READ, 0)
            size = os.fstat(self._fd).st_size
        except OSError as error:
            raise JournalError(f"cannot read: {error.strerror}") from error
        return parse_header(raw, size)

    def _entry_offset(self, index: int) -> int:
        if not 0 <= index < self.header.n_entries:
            raise JournalError(f"no entry {index} (the file has {self.header.n_entries})")
        array = self._array_for(index)
        width = 4 if self.header.compact else 8
        at = array.offset + ARRAY_FIXED + (index - array.first) * width
        offset = int.from_bytes(self._pread(at, width), "little")
        if offset == 0:
            raise JournalError(f"entry {index} is counted but not linked")
        return offset

    def _array_for(self, index: int) -> _Array:
        if not self._arrays:
            self._arrays.append(self._load_array(self.header.entry_array_offset, 0))
        while index >= self._arrays[-1].first + self._arrays[-1].capacity:
            last = self._arrays[-1]
            # Not cached: the last array's next pointer is written when journald fills it.
            following = int.from_bytes(self._pread(last.offset + 16, 8), "little")
            if following <= last.offset:  # zero (no next yet) or backwards (garbage, a loop)
                raise JournalError(f"entry {index} is past the end of the entry-array chain")
            self._arrays.append(self._load_array(following, last.first + last.capacity))
        for array in reversed(self._arrays):
            if array.first <= index:
                return array
        raise JournalError(f"no entry array for entry {index}")  # unreachable: the first starts at 0

    def _load_array(self, offset: int, first: int) -> _Array:
        size = self._object_size(offset, OBJECT_ENTRY_ARRAY, ARRAY_FIXED + 4, self.header.end)
        capacity = (size - ARRAY_FIXED) // (4 if self.header.compact else 8)
        if capacity == 0:
            raise JournalError(f"empty entry array at {offset}")
        return _Array(offset, first, capacity)

    def _data(self, offset: int, fields: Collection[str], limit: int) -> tuple[str, bytes | None, bool]:
        if fields != self._cache_fields:  # the cache holds values only for the fields asked for
            self._cache.clear()
            self._cache_fields = fields
        cached = self._cache.get(offset)
        if cached is not None:
            return cached
        payload_at = 72 if self.header.compact else 64  # compact adds tail_entry_array_offset/_n_entries
        size = self._object_size(offset, OBJECT_DATA, payload_at, self.header.end)
        head = self._pread(offset, min(size, PEEK))
        flags = head[1]
        if flags & 7:
            result = self._compressed(offset, flags, size - payload_at, payload_at, fields, limit)
        else:
            payload = head[payload_at:]
            name = payload.split(b"=", 1)[0].decode("ascii", "replace")
            value = None
            if name in fields:
                if size > len(head) and len(payload) < len(name) + 1 + limit:
                    payload = self._pread(offset + payload_at, min(size - payload_at, len(name) + 1 + limit))
                value = payload[len(name) + 1:len(name) + 1 + limit]
            result = (name, value, False)
        if result[1] is None or len(result[1]) <= CACHE_VALUE:  # messages are mostly unique: not kept
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[offset] = result
        return result

    def _compressed(self, offset: int, flags: int, length: int, payload_at: int, fields: Collection[str],
                    limit: int) -> tuple[str, bytes | None, bool]:
        longest = max((len(name) for name in fields), default=0)
        plain = decompress(flags, self._pread(offset + payload_at, length), longest + 1 + limit) \
            if length <= MAX_COMPRESSED else None
        if plain is None or b"=" not in plain:
            return "", None, True
        name = plain.split(b"=", 1)[0].decode("ascii", "replace")
        return name, plain[len(name) + 1:len(name) + 1 + limit] if name in fields else None, False

    def _object_size(self, offset: int, kind: int, minimum: int, maximum: int) -> int:
        if offset % 8 or not self.header.header_size <= offset <= self.header.end - OBJECT_HEADER:
            raise JournalError(f"object offset {offset} outside the arena or misaligned")
        head = self._pread(offset, OBJECT_HEADER)
        size = int.from_bytes(head[8:16], "little")
        if head[0] != kind:
            raise JournalError(f"object at {offset} is of type {head[0]}, expected {kind}")
        if not minimum <= size <= maximum or offset + size > self.header.end:
            raise JournalError(f"object at {offset} has a bad size {size}")
        return size

    def _object(self, offset: int, kind: int, minimum: int, length: int) -> bytes:
        self._object_size(offset, kind, minimum, self.header.end)
        return self._pread(offset, length)

    def _pread(self, offset: int, length: int) -> bytes:
        try:
            data = os.pread(self._fd, length, offset)
        except OSError as error:
            raise JournalError(f"cannot read at {offset}: {error.strerror}") from error
        if len(data) < length:
            raise JournalError(f"short read at {offset}: the file is truncated")
        return data
