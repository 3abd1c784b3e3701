"""inotify wake-ups for the sources that follow files: a change to a followed name wakes the
source at once, anything else in the folder does not, and where inotify cannot watch, the
source polls. inotify queues an event within the write itself, so no test waits for one."""
from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperpod_deps.health import file_events
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.sources import Detected, SourceThread


@pytest.fixture
def events(tmp_path: Path) -> Iterator[file_events.FileEvents]:
    watched = file_events.watch([(tmp_path, ["kern.log"])])
    assert watched is not None  # inotify is there on every Linux this project runs on
    yield watched
    watched.close()


def test_nothing_written_is_no_wake_up(events: file_events.FileEvents) -> None:
    assert events.wait(0) is False


def test_an_append_wakes_and_a_burst_of_them_is_one_wake_up(tmp_path: Path,
                                                              events: file_events.FileEvents) -> None:
    log = tmp_path / "kern.log"
    for line in range(100):
        with log.open("a") as handle:
            handle.write(f"line {line}\n")
    assert events.wait(0) is True
    assert events.wait(0) is False


def test_another_file_in_the_folder_wakes_nobody(tmp_path: Path, events: file_events.FileEvents) -> None:
    (tmp_path / "syslog").write_text("a daemon's line\n")
    assert events.wait(0) is False


@pytest.mark.parametrize("change", ["rotate", "truncate", "delete"])
def test_rotation_truncation_and_deletion_wake(tmp_path: Path, change: str) -> None:
    log = tmp_path / "kern.log"
    log.write_text("old\n")
    watched = file_events.watch([(tmp_path, ["kern.log"])])
    assert watched is not None
    if change == "rotate":
        log.rename(tmp_path / "kern.log.1")
    elif change == "truncate":
        log.write_text("")
    else:
        log.unlink()
    assert watched.wait(0) is True
    watched.close()


def test_a_folder_followed_whole_wakes_for_any_name(tmp_path: Path) -> None:
    watched = file_events.watch([(tmp_path, None)])
    assert watched is not None
    (tmp_path / "system.journal").write_bytes(b"\0")
    assert watched.wait(0) is True
    watched.close()


def test_a_folder_that_cannot_be_watched_means_polling(tmp_path: Path) -> None:
    assert file_events.watch([(tmp_path, None), (tmp_path / "missing", ["kern.log"])]) is None


def test_a_source_thread_sleeps_until_its_file_changes(tmp_path: Path,
                                                       events: file_events.FileEvents) -> None:
    """Its turns come from writes, not a clock: a long pause, yet a turn right after each append."""
    turns: queue.SimpleQueue[int] = queue.SimpleQueue()
    count = [0]

    def turn() -> Detected | None:
        count[0] += 1
        turns.put(count[0])
        return None

    stop = threading.Event()
    thread = SourceThread("kern.log", turn, queue.SimpleQueue(), stop, 3600, AgentLog(io.StringIO()), events)
    thread.start()
    assert turns.get(timeout=10) == 1  # the first turn comes at once
    (tmp_path / "kern.log").write_text("a line\n")
    assert turns.get(timeout=10) == 2  # woken by the write, an hour before its pause would end
    stop.set()
    (tmp_path / "kern.log").write_text("the last line\n")  # wakes it to see the stop
    thread.join(10)
    assert not thread.is_alive()
