"""Decompress one journal data object's payload: XZ, LZ4 or ZSTD, whichever the object's flags say.

journald compresses a field only when its payload reaches a threshold (512 bytes by default), so
most kernel records are stored plain. XZ uses the stdlib; LZ4 is a small block decoder here (the
format is simple and the objects are small); ZSTD, systemd's default, is the stdlib's
`compression.zstd` from Python 3.14 and its backport before. Every function returns None for what
it cannot decode, never raises, and never produces more than `limit` bytes, so a hostile object
cannot blow up memory.
"""
from __future__ import annotations

import lzma
import sys

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

XZ, LZ4, ZSTD = 1, 2, 4  # object flags (journal-def.h: OBJECT_COMPRESSED_*)


def decompress(flags: int, blob: bytes, limit: int) -> bytes | None:
    if flags & XZ:
        return _xz(blob, limit)
    if flags & LZ4:
        return _lz4(blob, limit)
    if flags & ZSTD:
        return _zstd(blob, limit)
    return None


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
    try:
        return bytes(zstd.ZstdDecompressor().decompress(blob, max_length=limit))
    except (zstd.ZstdError, EOFError, ValueError):
        return None
