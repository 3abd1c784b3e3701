"""Decompress one journal data object's payload: XZ, LZ4 or ZSTD, whichever the object's flags say.

journald compresses a field only when its payload reaches a threshold (512 bytes by default), so
most kernel records are stored plain. XZ uses the stdlib; LZ4 is a small block decoder here (the
format is simple and the objects are small); ZSTD has no stdlib decoder before Python 3.14, so it
is used only where a module for it happens to be importable (`compression.zstd`,
`backports.zstd`, `zstandard`). Every function returns None for what it cannot decode, never
raises, and never produces more than `limit` bytes, so a hostile object cannot blow up memory.
"""
from __future__ import annotations

import importlib
import io
import lzma
from typing import Any

XZ, LZ4, ZSTD = 1, 2, 4  # object flags (journal-def.h: OBJECT_COMPRESSED_*)


def decompress(flags: int, blob: bytes, limit: int) -> bytes | None:
    if flags & XZ:
        return _xz(blob, limit)
    if flags & LZ4:
        return _lz4(blob, limit)
    if flags & ZSTD:
        return _zstd(blob, limit)
    return None


def zstd_available() -> bool:
    return _zstd_module() is not None


def _xz(blob: bytes, limit: int) -> bytes | None:
    try:
        return lzma.LZMADecompressor().decompress(blob, max_length=limit)
    except (lzma.LZMAError, EOFError, ValueError):
        return None


def _lz4(blob: bytes, limit: int) -> bytes | None:
    """journald stores LZ4 as the uncompressed size (little-endian, 8 bytes) and one raw block."""
    if len(blob) <= 8:
        return None
    size = int.from_bytes(blob[:8], "little")
    try:
        out = lz4_block(blob[8:], min(size, limit))
    except (IndexError, ValueError):
        return None
    return out if len(out) == min(size, limit) else None


def lz4_block(src: bytes, limit: int) -> bytes:
    """Decode one LZ4 block (sequences of literals then a back-reference), stopping at `limit`."""
    out = bytearray()
    i = 0
    while i < len(src) and len(out) < limit:
        token = src[i]
        i += 1
        literals, i = _length(src, i, token >> 4)
        if i + literals > len(src):
            raise ValueError("literals run past the block")
        out += src[i:i + literals]
        i += literals
        if i >= len(src):
            break  # the last sequence is literals only
        distance = src[i] | src[i + 1] << 8
        i += 2
        if distance == 0 or distance > len(out):
            raise ValueError("back-reference before the start")
        match, i = _length(src, i, token & 15)
        match += 4
        start = len(out) - distance
        if distance >= match:
            out += out[start:start + match]
        else:  # overlapping: the copied bytes repeat the last `distance` bytes
            pattern = bytes(out[start:])
            out += (pattern * (match // distance + 1))[:match]
    return bytes(out[:limit])


def _length(src: bytes, i: int, nibble: int) -> tuple[int, int]:
    length = nibble
    if nibble == 15:
        while True:
            extra = src[i]
            i += 1
            length += extra
            if extra != 255:
                break
    return length, i


def _zstd(blob: bytes, limit: int) -> bytes | None:
    module = _zstd_module()
    if module is None:
        return None
    try:
        if module.__name__ == "zstandard":  # no max_length there: read through a stream instead
            reader = module.ZstdDecompressor().stream_reader(io.BytesIO(blob))
            return bytes(reader.read(limit))
        return bytes(module.ZstdDecompressor().decompress(blob, max_length=limit))
    except Exception:  # a third-party decoder's own error types; a bad object is not our crash
        return None


_ZSTD_MODULES = ("compression.zstd", "backports.zstd", "zstandard")
_zstd_cache: list[Any] = []


def _zstd_module() -> Any:
    if not _zstd_cache:
        found = None
        for name in _ZSTD_MODULES:
            try:
                found = importlib.import_module(name)
                break
            except ImportError:
                continue
        _zstd_cache.append(found)
    return _zstd_cache[0]
