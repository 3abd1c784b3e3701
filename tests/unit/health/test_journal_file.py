"""The journal file reader on files written by systemd's own code (systemd-journal-remote).

systemd-journal-remote turns the journal export format into a journal file with journald's
writer, keeping trusted fields such as _TRANSPORT as given, so these are real files of the
format the host's journald writes (compact, keyed hash, ZSTD on Debian's systemd 252).
"""
from __future__ import annotations

import lzma
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperpod_deps.health.journal_compress import LZ4, XZ, ZSTD, decompress, lz4_block
from hyperpod_deps.health.journal_file import JournalError, JournalFile, parse_header
from tests.support.journal_files import BOOT, kernel, needs_remote, user_kmsg, write_journal

FIELDS = frozenset({"MESSAGE", "_TRANSPORT", "SYSLOG_FACILITY", "PRIORITY", "SYSLOG_IDENTIFIER"})


def entries(file: JournalFile) -> Iterator[dict[str, bytes]]:
    for index in range(file.header.n_entries):
        yield file.entry(index, FIELDS, 65536).fields


@needs_remote
@pytest.mark.parametrize("compact", [True, False], ids=["compact", "regular"])
def test_reads_kernel_and_user_records_with_their_fields(tmp_path: Path, compact: bool) -> None:
    path = write_journal(tmp_path / "system.journal", [kernel("NVRM: Xid 79"), user_kmsg("hello")],
                         compact=compact)
    file = JournalFile(path)
    assert file.header.compact is compact
    first, second = (file.entry(i, FIELDS, 65536) for i in range(2))
    assert first.fields == {"MESSAGE": b"NVRM: Xid 79", "_TRANSPORT": b"kernel", "SYSLOG_FACILITY": b"0",
                            "PRIORITY": b"3", "SYSLOG_IDENTIFIER": b"kernel"}
    assert second.fields["SYSLOG_FACILITY"] == b"1"
    assert (first.seqnum, second.seqnum) == (1, 2)
    assert first.seqnum_id == file.header.seqnum_id and first.boot_id == BOOT
    assert (first.realtime, first.monotonic) == (1_700_000_000_000_000, 5_000_000)


@needs_remote
def test_only_the_fields_asked_for(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "system.journal", [{**kernel("x"), "_HOSTNAME": "node-1"}])
    assert JournalFile(path).entry(0, {"_HOSTNAME"}, 100).fields == {"_HOSTNAME": b"node-1"}


@needs_remote
def test_a_large_message_is_compressed_and_read(tmp_path: Path) -> None:
    """journald compresses payloads from 512 bytes; Debian's build uses ZSTD."""
    big = "GPU has fallen off the bus. " * 40
    file = JournalFile(write_journal(tmp_path / "system.journal", [kernel(big), kernel("small")]))
    assert file.header.incompatible & 8  # COMPRESSED-ZSTD
    entry = file.entry(0, FIELDS, 65536)
    assert entry.fields["MESSAGE"] == big.encode() and entry.unreadable == 0
    assert file.entry(1, FIELDS, 65536).fields["MESSAGE"] == b"small"


@needs_remote
def test_a_value_is_cut_at_the_limit(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "system.journal", [kernel("x" * 10_000)], compress=False)
    assert JournalFile(path).entry(0, FIELDS, 4096).fields["MESSAGE"] == b"x" * 4096


@needs_remote
def test_many_entries_span_several_entry_arrays_and_seek_by_seqnum(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "system.journal", [kernel(f"line {n}") for n in range(300)])
    file = JournalFile(path)
    assert [e["MESSAGE"] for e in entries(file)] == [f"line {n}".encode() for n in range(300)]
    assert len(file._arrays) >= 4  # journald's arrays grow, so 300 entries need several
    assert file.first_after(0) == 0 and file.first_after(150) == 150 and file.first_after(300) == 300


@needs_remote
def test_appending_moves_the_header_and_refresh_sees_it(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "system.journal", [kernel("one")])
    file = JournalFile(path)
    write_journal(path, [kernel("two"), kernel("three")], start=1)
    assert file.header.n_entries == 1
    assert file.refresh().n_entries == 3 and file.header.tail_seqnum == 3
    assert [e["MESSAGE"] for e in entries(file)] == [b"one", b"two", b"three"]


@needs_remote
def test_a_truncated_file_is_an_error_for_that_file(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "system.journal", [kernel(f"line {n}") for n in range(50)])
    data = path.read_bytes()
    for cut in (0, 7, 100, 300, len(data) // 2, len(data) - 8):
        (tmp_path / "cut.journal").write_bytes(data[:cut])
        with pytest.raises(JournalError):
            JournalFile(tmp_path / "cut.journal")


def test_an_unknown_incompatible_flag_is_refused_clearly() -> None:
    header = bytearray(272)
    header[:8] = b"LPKSHHRH"
    header[12:16] = (1 << 7).to_bytes(4, "little")
    with pytest.raises(JournalError, match="unsupported incompatible flags 0x80"):
        parse_header(bytes(header), 1 << 20)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot open"):
        JournalFile(tmp_path / "absent.journal")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048), st.booleans())
def test_random_bytes_only_ever_give_a_journal_error(tmp_path: Path, data: bytes, signed: bool) -> None:
    path = tmp_path / "random.journal"
    path.write_bytes((b"LPKSHHRH" + data[8:]) if signed else data)
    _read_everything(path)


SAMPLE: list[bytes] = []


@needs_remote
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=8))
def test_a_damaged_real_file_only_ever_gives_a_journal_error(tmp_path: Path,
                                                              flips: list[tuple[int, int]]) -> None:
    """Bytes changed anywhere in a real file (its objects are near the start and the end)."""
    if not SAMPLE:
        source = write_journal(tmp_path / "sample.journal", [kernel(f"line {n}") for n in range(20)])
        SAMPLE.append(source.read_bytes())
    data = bytearray(SAMPLE[0])
    used = [range(0, 4096), range(len(data) - 65536, len(data))]
    for position, value in flips:
        zone = used[position % 2]
        data[zone[position % len(zone)]] = value
    path = tmp_path / "damaged.journal"
    path.write_bytes(bytes(data))
    _read_everything(path)


def _read_everything(path: Path) -> None:
    try:
        file = JournalFile(path)
    except JournalError:
        return
    try:
        for index in range(min(file.header.n_entries, 100)):
            try:
                file.entry(index, FIELDS, 65536)
                file.first_after(index)
            except JournalError:
                pass
    finally:
        file.close()


def test_xz_payloads_decode_within_the_limit() -> None:
    blob = lzma.compress(b"MESSAGE=" + b"a" * 5000)
    assert decompress(XZ, blob, 100_000) == b"MESSAGE=" + b"a" * 5000
    assert decompress(XZ, blob, 20) == b"MESSAGE=aaaaaaaaaaaa"
    assert decompress(XZ, b"garbage", 100) is None


def test_lz4_blocks_decode_literals_and_overlapping_matches() -> None:
    # "abc" then a match of 9 at distance 3 (overlapping), then the literals "xyz".
    block = bytes([0x35]) + b"abc" + (3).to_bytes(2, "little") + bytes([0x30]) + b"xyz"
    assert lz4_block(block, 100) == b"abcabcabcabcxyz"
    assert decompress(LZ4, (15).to_bytes(8, "little") + block, 100) == b"abcabcabcabcxyz"
    assert decompress(LZ4, (15).to_bytes(8, "little") + block, 5) == b"abcab"
    assert decompress(LZ4, (16).to_bytes(8, "little") + block, 100) is None  # shorter than it claims
    assert decompress(LZ4, (15).to_bytes(8, "little") + bytes([0x35]) + b"abc" + b"\x09\x00", 100) is None


@pytest.mark.skipif(shutil.which("lz4") is None,
                    reason="the lz4 command is absent (Debian package lz4; `make host-packages` installs it)")
def test_lz4_blocks_from_the_reference_encoder() -> None:
    plain = b"MESSAGE=" + b"".join(b"NVRM: Xid %d, pid=%d " % (n, n * 7) for n in range(400))
    frame = subprocess.run(["lz4", "-c", "--no-frame-crc", "-BD"], input=plain, capture_output=True,
                           check=True).stdout
    flags = frame[4]
    at = 7 + (8 if flags & 0x08 else 0) + (4 if flags & 0x01 else 0)  # magic, FLG, BD, [size], [dict], HC
    size = int.from_bytes(frame[at:at + 4], "little")
    assert not size & 1 << 31, "lz4 stored the block uncompressed"
    assert lz4_block(frame[at + 4:at + 4 + size], len(plain) + 10) == plain


@given(st.binary(max_size=300), st.sampled_from([XZ, LZ4, ZSTD]), st.integers(min_value=0, max_value=1000))
def test_decompress_never_raises(blob: bytes, flag: int, limit: int) -> None:
    out = decompress(flag, blob, limit)
    assert out is None or len(out) <= limit
