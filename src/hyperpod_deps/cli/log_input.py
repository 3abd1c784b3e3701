"""The lines of a log file or stdin for `health classify`, in bounded memory whatever the input.

Lines are cut at the agent's MAX_LINE (the rest of a longer line is skipped, so the line
numbers stay those of the file); gzip and UTF-16/32 with a byte-order mark are decoded; input
that is not text (/dev/zero, an image) is refused rather than read forever or reported as
"nothing matched".
"""
from __future__ import annotations

import codecs
import re
import sys
import zlib
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from hyperpod_deps.health.watchers import MAX_LINE, READ_CHUNK

SNIFF = 8192  # bytes looked at to tell text from binary
_GZIP = b"\x1f\x8b"
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_NEWLINE = re.compile(rb"\r\n|\r|\n")
# Bytes no text log holds (controls other than tab, newlines, form feed, escape and json-seq's RS).
_NOT_TEXT = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c\x1d\x1f\x7f]")
_BINARY_SHARE = 0.3


class InputError(Exception):
    """The input cannot be classified; the message is one line for the user."""


def read_lines(path: Path) -> Iterator[bytes]:
    """Each line (without its end), at most MAX_LINE bytes; InputError for unusable input."""
    name = "standard input" if str(path) == "-" else str(path)
    return _text_lines(_chunks(path, name), name)


def _chunks(path: Path, name: str) -> Iterator[bytes]:
    if str(path) == "-":
        stream = getattr(sys.stdin, "buffer", None)  # sys.stdin is None when fd 0 is closed
        if stream is None:
            raise InputError("cannot read standard input: it is closed")
        return _read(stream, name)
    if path.is_dir():
        raise InputError(f"cannot read {name}: it is a directory")
    try:
        handle = path.open("rb")
    except PermissionError:
        raise InputError(f"cannot read {name}: permission denied") from None
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}") from None
    return _read(handle, name, close=True)


def _read(stream: BinaryIO, name: str, close: bool = False) -> Iterator[bytes]:
    try:
        while chunk := stream.read(READ_CHUNK):
            yield chunk
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}") from None
    finally:
        if close:
            stream.close()


def _text_lines(chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    head, chunks = _head(chunks, 4)
    if head.startswith(_GZIP):
        chunks = _gunzip(chunks, name)
        head, chunks = _head(chunks, 4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            chunks = _recode(chunks, encoding)
            break
    else:
        if head.startswith(codecs.BOM_UTF8):
            chunks = _skip(chunks, len(codecs.BOM_UTF8))
    sniff, chunks = _head(chunks, SNIFF)
    if _looks_binary(sniff[:SNIFF]):
        raise InputError(f"{name} is not a text log (binary data: NUL or control bytes); "
                         "give a kernel log, plain or gzip")
    return _split(chunks)


def _head(chunks: Iterator[bytes], size: int) -> tuple[bytes, Iterator[bytes]]:
    """At least `size` bytes from the front (fewer at the end), and all the chunks again."""
    taken: list[bytes] = []
    total = 0
    for chunk in chunks:
        taken.append(chunk)
        total += len(chunk)
        if total >= size:
            break
    head = b"".join(taken)
    return head[:size], chain([head], chunks) if head else chunks


def _skip(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    first = next(chunks, b"")
    yield first[count:]
    yield from chunks


def _gunzip(chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Every member of a gzip stream (`cat a.gz b.gz` is one), decompressed a chunk at a time so a
    small file that expands to gigabytes never sits in memory."""
    inflate, fed = _inflater(), False
    try:
        for data in chunks:
            while data or fed:
                fed = fed or bool(data)
                out = inflate.decompress(data, READ_CHUNK)
                if out:
                    yield out
                data = inflate.unconsumed_tail
                if inflate.eof:  # a member ends; what follows it starts the next one
                    data, inflate, fed = inflate.unused_data + data, _inflater(), False
                elif not data and not out:
                    break  # all input taken and no output pending: wait for more input
    except zlib.error as error:
        raise InputError(f"cannot read {name}: damaged gzip data ({error})") from None
    if fed:
        raise InputError(f"cannot read {name}: the gzip data ends early")


def _inflater() -> zlib._Decompress:
    return zlib.decompressobj(zlib.MAX_WBITS | 16)  # gzip framing only


def _recode(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")  # reads and drops the BOM
    for chunk in chunks:
        yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
    yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")


def _looks_binary(sniff: bytes) -> bool:
    if not sniff:
        return False
    odd = len(_NOT_TEXT.findall(sniff))
    # Invalid UTF-8 counts too (random bytes), though a few stray Latin-1 bytes do not make a log binary.
    odd += sniff.decode("utf-8", errors="replace").count("\ufffd") - sniff.count("\ufffd".encode())
    return odd > _BINARY_SHARE * len(sniff)


def _split(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines ended by LF, CR LF or CR, each cut at MAX_LINE; memory stays under a chunk plus a line."""
    pending, skipping = b"", False
    for chunk in chunks:
        data = pending + chunk
        # A CR at the end may be the first half of CR LF: keep it for the next chunk.
        held = data.endswith(b"\r")
        lines = _NEWLINE.split(data[:-1] if held else data)
        pending = lines.pop() + (b"\r" if held else b"")
        for line in lines:
            if skipping:  # the rest of a line already cut
                skipping = False
                continue
            yield line[:MAX_LINE]
        if len(pending) > MAX_LINE:
            if not skipping:
                yield pending[:MAX_LINE]
            pending, skipping = b"", True
    if pending and not skipping:
        yield pending.removesuffix(b"\r")[:MAX_LINE]
