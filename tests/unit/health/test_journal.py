"""Following a journal directory: order across rotation, the cursor, origin, damaged files.

Rotation is real: systemd-journal-remote writing into a 4 MiB tmpfs sizes its files at 512 KiB
and rotates them the way journald does (system.journal renamed to system@<seqnum_id>-<head
seqnum>-<head time>.journal, archived, and a new system.journal continuing the sequence). The
tmpfs lives in a private mount namespace (root and `unshare` needed), seen through /proc/PID/root.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperpod_deps.health.cursors import CursorStore, JournalCursor
from hyperpod_deps.health.journal import JournalReader
from hyperpod_deps.health.journal_file import JournalFile
from hyperpod_deps.health.kernel_log import KernelLog, Origin
from hyperpod_deps.health.watchers import MAX_LINE
from tests.support.journal_files import REMOTE, export, kernel, needs_remote, user_kmsg, write_journal


def _can_unshare() -> str | None:
    if not REMOTE.exists():
        return f"{REMOTE} is absent (Debian package systemd-journal-remote)"
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "rotation needs root and unshare(1) for a private tmpfs"
    done = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return None if done.returncode == 0 else f"unshare -m failed: {done.stderr.decode().strip()}"


NO_NAMESPACE = _can_unshare()
needs_namespace = pytest.mark.skipif(NO_NAMESPACE is not None, reason=str(NO_NAMESPACE))


def noisy(n: int) -> dict[str, str]:
    """A kernel record that compresses badly and stays under the compression threshold."""
    return kernel(f"line {n} " + os.urandom(120).hex())


def rotating_writer(mount: Path) -> subprocess.Popen[bytes]:
    mount.mkdir()
    script = (f"mount -t tmpfs -o size=4m tmpfs {mount} && "
              f"exec {REMOTE} --output={mount}/system.journal -")
    return subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdin=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env={**os.environ, "SYSTEMD_LOG_LEVEL": "err"})


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2500 records in several rotated files plus system.journal, written in a private tmpfs."""
    if NO_NAMESPACE:
        pytest.skip(NO_NAMESPACE)
    base = tmp_path_factory.mktemp("rotated")
    out, mount = base / "journal", base / "mnt"
    out.mkdir()
    mount.mkdir()
    script = (f"mount -t tmpfs -o size=4m tmpfs {mount} && "  # copied out before the namespace goes
              f"{REMOTE} --output={mount}/system.journal - && cp {mount}/* {out}")
    quiet = {**os.environ, "SYSTEMD_LOG_LEVEL": "err"}
    subprocess.run(["unshare", "-m", "sh", "-c", script], input=export([noisy(n) for n in range(2500)]),
                   check=True, capture_output=True, timeout=120, env=quiet)
    assert len(list(out.glob("system@*.journal"))) >= 2
    return out


def drain(reader: JournalReader) -> Iterator[KernelLog]:
    while True:
        yield from reader.read()
        if not reader.backlog:
            return


def check_order(records: list[KernelLog], first: int, lines: range, directory: Path) -> None:
    """Every entry of the files once, by sequence number, and so every line written, in order.

    systemd-journal-remote writes the entry at which it rotates into both files (two sequence
    numbers), so the lines are compared with such neighbours taken as one.
    """
    total = sum(JournalFile(path).header.n_entries for path in directory.glob("system*.journal"))
    assert [r.sequence for r in records] == list(range(first, total + 1))
    words = [r.message.split()[1] for r in records]
    assert [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]] == [str(n) for n in lines]


@needs_remote
def test_first_start_reads_from_the_end(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "system.journal", [kernel("before")])
    reader = JournalReader(tmp_path, None)
    assert reader.read() == [] and reader.cursor is not None and reader.cursor.seqnum == 1
    write_journal(path, [kernel("after 1"), kernel("after 2")], start=1)
    assert [r.message for r in reader.read()] == ["after 1", "after 2"]
    assert reader.read() == []


@needs_remote
def test_a_journal_that_appears_later_is_read_from_its_start(tmp_path: Path) -> None:
    reader = JournalReader(tmp_path, None)
    assert reader.read() == [] and reader.cursor is None
    write_journal(tmp_path / "system.journal", [kernel("first"), kernel("second")])
    assert [r.message for r in reader.read()] == ["first", "second"]


@needs_remote
def test_only_the_kernel_transport_with_facility_0_is_the_kernel(tmp_path: Path) -> None:
    forged_syslog = {"MESSAGE": "NVRM: Xid 79", "_TRANSPORT": "syslog", "SYSLOG_FACILITY": "0",
                     "PRIORITY": "3", "SYSLOG_IDENTIFIER": "kernel"}
    older_journald = {"MESSAGE": "no facility field", "_TRANSPORT": "kernel", "PRIORITY": "4"}
    native = {"MESSAGE": "from an app", "_TRANSPORT": "journal", "PRIORITY": "6"}
    write_journal(tmp_path / "system.journal",
                  [kernel("NVRM: Xid 79"), user_kmsg("NVRM: Xid 79"), forged_syslog, older_journald, native])
    records = JournalReader(tmp_path, JournalCursor("new", 0, 0)).read()
    assert [(r.origin, r.priority) for r in records] == [
        (Origin.KERNEL, 3), (Origin.USERSPACE, 1 << 3 | 5), (Origin.USERSPACE, 3),
        (Origin.KERNEL, 4), (Origin.USERSPACE, 1 << 3 | 6)]
    assert records[0].message == "NVRM: Xid 79" and records[0].sequence == 1
    assert records[0].timestamp_us == 5_000_000
    kernel_only = JournalReader(tmp_path, JournalCursor("new", 0, 0), kernel_only=True)
    assert [r.message for r in kernel_only.read()] == ["NVRM: Xid 79", "no facility field"]
    assert kernel_only.cursor is not None and kernel_only.cursor.seqnum == 5  # skipped ones count as read


@needs_remote
def test_long_messages_are_cut_and_compressed_ones_read(tmp_path: Path) -> None:
    write_journal(tmp_path / "system.journal", [kernel("y" * (MAX_LINE + 5000))], compress=False)
    (record,) = JournalReader(tmp_path, JournalCursor("new", 0, 0)).read()
    assert record.message == "y" * MAX_LINE
    other = tmp_path / "zstd"
    other.mkdir()
    write_journal(other / "system.journal", [kernel("z" * 2000), kernel("short")])
    warnings: list[str] = []
    reader = JournalReader(other, JournalCursor("new", 0, 0), warn=warnings.append)
    assert [r.message for r in reader.read()] == ["z" * 2000, "short"]
    assert reader.unreadable == 0 and not warnings


@needs_remote
def test_a_garbage_file_is_warned_about_and_the_others_read(tmp_path: Path) -> None:
    write_journal(tmp_path / "system.journal", [kernel("good")])
    (tmp_path / "system@0000-0000.journal").write_bytes(b"LPKSHHRH" + b"\xff" * 400)
    (tmp_path / "system@0001-0000.journal~").write_bytes(b"")
    warnings: list[str] = []
    reader = JournalReader(tmp_path, JournalCursor("new", 0, 0), warn=warnings.append)
    assert [r.message for r in reader.read()] == ["good"]
    assert reader.read() == [] and len(warnings) == 2


@needs_remote
def test_a_machine_id_directory_below_is_found(tmp_path: Path) -> None:
    machine = tmp_path / ("ab" * 16)
    machine.mkdir()
    write_journal(machine / "system.journal", [kernel("one")])
    (tmp_path / "remote").mkdir()
    reader = JournalReader(tmp_path, None)
    write_journal(machine / "system.journal", [kernel("two")], start=1)
    assert [r.message for r in reader.read()] == ["two"]


@needs_remote
def test_a_new_sequence_after_the_old_one_skips_what_it_holds_from_before(tmp_path: Path) -> None:
    write_journal(tmp_path / "system.journal", [kernel(f"r{n}") for n in range(10)])
    old = JournalCursor("deleted-sequence", 99, 1_700_000_000_000_000 + 4)
    assert [r.message for r in JournalReader(tmp_path, old).read()] == [f"r{n}" for n in range(5, 10)]


@needs_namespace
def test_all_rotated_files_in_order_once(rotated: Path) -> None:
    reader = JournalReader(rotated, JournalCursor("new", 0, 0), chunk=700)
    check_order(list(drain(reader)), 1, range(2500), rotated)
    assert reader.read() == [] and not reader.backlog


@needs_namespace
def test_a_restart_from_a_saved_cursor_neither_loses_nor_repeats(rotated: Path, tmp_path: Path) -> None:
    store = CursorStore(tmp_path / "state", warn=print)
    first = JournalReader(rotated, JournalCursor("new", 0, 0), chunk=1234)
    seen = first.read()
    assert first.backlog and first.cursor is not None and len(seen) == 1234
    store.save("journal", first.cursor)
    saved = store.load_journal("journal")
    assert saved == first.cursor
    seen += drain(JournalReader(rotated, saved))
    check_order(seen, 1, range(2500), rotated)


@needs_namespace
def test_following_while_journald_appends_and_rotates(tmp_path: Path) -> None:
    writer = rotating_writer(tmp_path / "mnt")
    assert writer.stdin is not None
    live = Path(f"/proc/{writer.pid}/root{tmp_path / 'mnt'}")
    try:
        writer.stdin.write(export([noisy(n) for n in range(10)]))
        writer.stdin.flush()
        _wait(lambda: JournalReader(live, None).cursor is not None)
        reader = JournalReader(live, None)
        assert reader.cursor is not None and reader.cursor.seqnum == 10
        seen: list[KernelLog] = []
        for batch in range(25):
            lines = range(10 + batch * 100, 110 + batch * 100)
            writer.stdin.write(export([noisy(n) for n in lines], start=lines.start))
            writer.stdin.flush()
            seen += drain(reader)

        def the_last_line_is_read() -> bool:
            seen.extend(drain(reader))
            return bool(seen) and seen[-1].message.startswith("line 2509 ")
        _wait(the_last_line_is_read)
        assert len(list(live.glob("system@*.journal"))) >= 2
        check_order(seen, 11, range(10, 2510), live)
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)


def _wait(done: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=1024), st.sampled_from(["system.journal", "system@x.journal"]))
def test_random_bytes_as_a_journal_never_raise_out_of_the_reader(tmp_path: Path, data: bytes,
                                                                    name: str) -> None:
    (tmp_path / name).write_bytes(b"LPKSHHRH" + data if data[:1] == b"\0" else data)
    for saved in (None, JournalCursor("x", 0, 0)):
        reader = JournalReader(tmp_path, saved)
        reader.read()
        reader.close()


@needs_remote
def test_idle_turns_read_only_the_live_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_journal(tmp_path / "system.journal", [kernel("one")])
    reader = JournalReader(tmp_path, None)
    reader.read()

    def no_listing(_self: JournalReader) -> None:
        raise AssertionError("listed the directory on an idle turn")
    monkeypatch.setattr(JournalReader, "_scan", no_listing)
    assert reader.read() == [] and reader.read() == []
    write_journal(path, [kernel("two")], start=1)
    assert [r.message for r in reader.read()] == ["two"]


_AS_NOBODY = """
import os, sys
from pathlib import Path
from hyperpod_deps.health.journal import JournalReader
os.setgroups([]); os.setgid(65532); os.setuid(65532)
warned = []
reader = JournalReader(Path(sys.argv[1]), None, warn=warned.append)
print(len(reader.read()), warned)
"""


@needs_remote
@pytest.mark.skipif(os.geteuid() != 0, reason="changes user to 65532")
@pytest.mark.parametrize("closed", ["folder", "file"])
def test_a_journal_the_user_may_not_read_is_a_warning_not_a_crash(closed: str) -> None:
    """A pod without the journal's group: the agent says why it reads nothing, and keeps running."""
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:  # pytest's own folders are root-only
        top = Path(scratch)
        top.chmod(0o755)
        folder = top / "0123456789abcdef0123456789abcdef"
        folder.mkdir()
        journal = write_journal(folder / "system.journal", [kernel("x")])
        if closed == "folder":
            folder.chmod(0o700)
        else:
            journal.chmod(0o600)
        done = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(top)], capture_output=True, text=True,
                              timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    said = "cannot read the journal" if closed == "folder" else "system.journal: cannot open"
    assert done.stdout.startswith("0 [") and said in done.stdout and "Permission denied" in done.stdout, \
        done.stdout
