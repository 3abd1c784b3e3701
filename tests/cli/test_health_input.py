"""The input of `health classify`: bounded lines, gzip, byte-order marks, binary refused."""
from __future__ import annotations

import codecs
import gzip
import tracemalloc
from collections.abc import Iterator
from itertools import islice, repeat

import pytest

from hyperpod_deps.cli.log_input import InputError, _split, _text_lines
from hyperpod_deps.health.watchers import MAX_LINE


def lines(*chunks: bytes) -> list[bytes]:
    return list(_text_lines(iter(chunks), "test.log"))


def test_line_ends_across_chunk_boundaries() -> None:
    assert lines(b"a\r", b"\nb\rc", b"\n", b"d") == [b"a", b"b", b"c", b"d"]
    assert lines(b"a\r") == [b"a"] and lines(b"a\n\r") == [b"a", b""] and lines(b"") == []


def test_a_long_line_is_cut_and_its_rest_skipped() -> None:
    long = b"x" * (3 * MAX_LINE)
    assert [len(line) for line in lines(long[:1000], long[1000:], b"\nnext\n")] == [MAX_LINE, 4]
    assert lines(b"y" * (MAX_LINE + 5)) == [b"y" * MAX_LINE]


def test_an_endless_line_stays_in_bounded_memory() -> None:
    endless: Iterator[bytes] = repeat(b"z" * 65536)
    tracemalloc.start()
    try:
        first = next(_split(islice(endless, 4096)))  # 256 MiB without a newline
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(first) == MAX_LINE and peak < 4 * 1024 * 1024


def test_gzip_members_and_damage() -> None:
    both = gzip.compress(b"one\n") + gzip.compress(b"two\n")
    assert lines(both[:5], both[5:]) == [b"one", b"two"]
    with pytest.raises(InputError, match="gzip data ends early"):
        lines(gzip.compress(b"one\ntwo\n" * 100)[:-12])
    with pytest.raises(InputError, match="damaged gzip data"):
        lines(b"\x1f\x8b\x08\x00garbage that is no deflate stream")


def test_a_gzip_bomb_is_read_a_chunk_at_a_time() -> None:
    bomb = gzip.compress(b"a" * (64 * 1024 * 1024) + b"\nNVRM\n")
    tracemalloc.start()
    try:
        result = lines(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == [b"a" * MAX_LINE, b"NVRM"] and peak < 8 * 1024 * 1024


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_byte_order_marks(encoding: str) -> None:
    text = "6,1,1,-;ä\n6,2,2,-;b\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert lines(data[:3], data[3:]) == ["6,1,1,-;ä".encode(), b"6,2,2,-;b"]


def test_utf16_without_a_mark_reads_as_binary() -> None:
    with pytest.raises(InputError, match="not a text log"):
        lines("6,1,1,-;x\n".encode("utf-16-le") * 10)


def test_a_log_with_some_latin1_or_a_few_nul_bytes_is_still_text() -> None:
    assert len(lines(b"Nov 28 12:00:01 h kernel: caf\xe9\n" * 50 + b"\x00" * 20 + b"\n")) == 51
