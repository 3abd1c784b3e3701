"""The kernel-log readers: a file tailer on real files (appends, rotation, truncation, restarts,
garbage) and the /dev/kmsg reader on a scripted device and on the real one."""
from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from hyperpod_deps.health.cursors import CursorStore, FileCursor, KmsgCursor
from hyperpod_deps.health.watchers import MAX_LINE, READ_CHUNK, KmsgFile, KmsgReader, LogTailer


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "kern.log"
    path.write_bytes(b"old line 1\nold line 2\n")
    return path


def test_first_start_begins_at_the_end_and_follows_appends(log: Path) -> None:
    tailer = LogTailer(log, None)
    assert tailer.read() == []
    append(log, b"new 1\nnew 2\n")
    assert tailer.read() == [b"new 1", b"new 2"]
    assert tailer.read() == []


def test_a_line_is_handed_out_only_once_it_is_complete(log: Path) -> None:
    tailer = LogTailer(log, None)
    start = log.stat().st_size
    append(log, b"half a li")
    assert tailer.read() == []
    assert tailer.cursor is not None and tailer.cursor.offset == start
    append(log, b"ne\n")
    assert tailer.read() == [b"half a line"]
    assert tailer.cursor.offset == log.stat().st_size


def test_rotation_loses_nothing_written_before_or_after_it(log: Path) -> None:
    tailer = LogTailer(log, None)
    append(log, b"before rotation\n")
    log.rename(log.with_name("kern.log.1"))
    append(log.with_name("kern.log.1"), b"late write to the old file\n")
    log.write_bytes(b"first of the new file\n")
    assert tailer.read() == [b"before rotation", b"late write to the old file", b"first of the new file"]
    append(log, b"second\n")
    assert tailer.read() == [b"second"]


def test_a_deleted_file_is_picked_up_again_when_it_comes_back(log: Path) -> None:
    tailer = LogTailer(log, None)
    log.unlink()
    assert tailer.read() == []
    log.write_bytes(b"recreated\n")
    assert tailer.read() == [b"recreated"]


def test_truncation_starts_the_file_over(log: Path) -> None:
    tailer = LogTailer(log, None)
    log.write_bytes(b"")  # copytruncate
    append(log, b"after\n")
    assert tailer.read() == [b"after"]


def test_a_file_that_appears_later_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "messages"
    tailer = LogTailer(path, None)
    assert tailer.read() == [] and tailer.cursor is None
    path.write_bytes(b"one\ntwo\n")
    assert tailer.read() == [b"one", b"two"]


def test_a_restart_reads_what_was_written_while_down_once(log: Path, tmp_path: Path) -> None:
    store = CursorStore(tmp_path / "state", warn=pytest.fail)
    first = LogTailer(log, store.load_file(str(log)))
    append(log, b"seen before the restart\n")
    assert first.read() == [b"seen before the restart"]
    assert first.cursor is not None
    store.save(str(log), first.cursor)
    first.close()
    append(log, b"written while down\n")
    second = LogTailer(log, store.load_file(str(log)))
    assert second.read() == [b"written while down"]
    assert second.read() == []


def test_a_restart_after_rotation_reads_the_rest_of_the_old_file_first(log: Path) -> None:
    tailer = LogTailer(log, None)
    saved = tailer.cursor
    tailer.close()
    append(log, b"tail of the old file\n")
    log.rename(log.with_name("kern.log.1"))
    log.write_bytes(b"head of the new file\n")
    assert LogTailer(log, saved).read() == [b"tail of the old file", b"head of the new file"]


def test_a_cursor_past_the_end_means_the_file_was_truncated_while_down(log: Path) -> None:
    identity = os.stat(log)
    saved = FileCursor(identity.st_dev, identity.st_ino, 10_000)
    assert LogTailer(log, saved).read() == [b"old line 1", b"old line 2"]


def test_binary_garbage_and_endless_lines_are_cut_at_the_line_limit(log: Path) -> None:
    tailer = LogTailer(log, None)
    garbage = bytes(range(256)).replace(b"\n", b"") * 3
    append(log, garbage + b"\n" + b"x" * (MAX_LINE + 10))
    lines = tailer.read()
    assert lines == [garbage, b"x" * MAX_LINE]
    append(log, b"more of the same line\nnormal\n")
    assert tailer.read() == [b"normal"]  # the rest of the long line was dropped


def test_the_rest_of_a_cut_line_cannot_pose_as_a_record(log: Path) -> None:
    """A process that writes one huge line cannot slip a kmsg-shaped record in past the cut."""
    tailer = LogTailer(log, None)
    forged = b"0,1,2,-;NVRM: Xid (PCI:0000:01:00): 79, pid=1, name=x, GPU has fallen off the bus."
    append(log, b"y" * MAX_LINE + forged + b"\nnext\n")
    assert tailer.read() == [b"y" * MAX_LINE, b"next"]


def test_an_unwritable_state_directory_is_reported_once_and_tolerated(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    warnings: list[str] = []
    store = CursorStore(blocker / "state", warn=warnings.append)
    store.save("kmsg", KmsgCursor("b", 1))
    store.save("kmsg", KmsgCursor("b", 2))
    assert len(warnings) == 1 and "cannot keep read positions" in warnings[0]
    assert store.load_kmsg("kmsg") is None


def test_a_corrupt_cursor_file_is_ignored(tmp_path: Path) -> None:
    store = CursorStore(tmp_path, warn=pytest.fail)
    store.save("kmsg", KmsgCursor("boot", 7))
    assert store.load_kmsg("kmsg") == KmsgCursor("boot", 7)
    for path in tmp_path.glob("cursor-*.json"):
        path.write_text("{not json")
    assert store.load_kmsg("kmsg") is None


# --- /dev/kmsg ----------------------------------------------------------------------------


class ScriptedKmsg:
    """Records as the kernel hands them out: one per read, EPIPE where some were overwritten."""

    def __init__(self, script: Sequence[bytes | BrokenPipeError], end: int = 0) -> None:
        self.script = list(script)
        self.end = end
        self.seeked_to_end = False

    def read_record(self) -> bytes | None:
        if self.seeked_to_end:
            self.script, self.seeked_to_end = self.script[self.end:], False
        if not self.script:
            return None
        item = self.script.pop(0)
        if isinstance(item, BrokenPipeError):
            raise item
        return item

    def wait(self, timeout: float) -> bool:
        return True

    def seek_end(self) -> None:
        self.seeked_to_end = True

    def close(self) -> None:
        pass


def record(seq: int, message: str) -> bytes:
    return f"4,{seq},{seq * 1000},-;{message}\n".encode()


BUFFER = [record(1, "boot"), record(2, "NVRM: Xid (PCI:0000:b9:00): 79, GPU has fallen off the bus."),
          record(3, "later")]


def test_kmsg_first_start_skips_what_is_already_in_the_buffer() -> None:
    device = ScriptedKmsg([*BUFFER, record(4, "new")], end=3)
    reader = KmsgReader(device, "boot-a", None)
    assert reader.read(0) == [record(4, "new")]
    assert reader.cursor == KmsgCursor("boot-a", 4)


def test_kmsg_resumes_after_the_last_record_of_the_same_boot() -> None:
    reader = KmsgReader(ScriptedKmsg(BUFFER), "boot-a", KmsgCursor("boot-a", 1))
    assert reader.read(0) == BUFFER[1:]


def test_kmsg_reads_the_whole_buffer_of_a_new_boot() -> None:
    reader = KmsgReader(ScriptedKmsg(BUFFER), "boot-b", KmsgCursor("boot-a", 99))
    assert reader.read(0) == BUFFER
    assert reader.cursor == KmsgCursor("boot-b", 3)


def test_kmsg_overruns_are_counted_and_reading_goes_on() -> None:
    reader = KmsgReader(ScriptedKmsg([record(1, "a"), BrokenPipeError(), record(9, "b"), b"garbage"]),
                        "boot", KmsgCursor("boot", 0))
    assert reader.read(0) == [record(1, "a"), record(9, "b"), b"garbage"]
    assert reader.overruns == 1
    assert reader.cursor.seq == 9


def test_the_real_kmsg_device_starts_at_the_end_and_sees_a_new_record() -> None:
    path = Path("/dev/kmsg")
    if not os.access(path, os.R_OK):
        pytest.skip("/dev/kmsg is not readable here")
    device = KmsgFile(path)
    try:
        reader = KmsgReader(device, "this-boot", None)
        assert reader.read(0) == []
        if not os.access(path, os.W_OK):
            return
        marker = f"hyperpod-deps kmsg reader test {uuid.uuid4()}"
        with path.open("w") as kmsg:
            kmsg.write(marker + "\n")
        records = reader.read(1.0)
        assert any(marker.encode() in r for r in records)
    finally:
        device.close()


def test_a_burst_larger_than_a_chunk_reports_a_backlog_until_it_is_read(log: Path) -> None:
    tailer = LogTailer(log, None)
    line = b"x" * 99 + b"\n"
    append(log, line * (2 * READ_CHUNK // len(line) + 10))
    reads = 0
    lines: list[bytes] = []
    while True:
        lines += tailer.read()
        reads += 1
        if not tailer.backlog:
            break
    assert reads == 3  # two full chunks, then the rest
    assert len(lines) == 2 * READ_CHUNK // len(line) + 10
    assert tailer.read() == [] and not tailer.backlog
