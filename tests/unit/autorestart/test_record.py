"""The restart record on the job: round trip, bounds, and garbage."""

from __future__ import annotations

import json

import pytest

from hyperpod_deps.autorestart import record as rec
from hyperpod_deps.autorestart.record import PodRef, RestartRecord


def test_round_trip_through_annotations() -> None:
    started = RestartRecord().starting(
        ("k1", "k2"), (PodRef("u1", "w0", force=True),), "2026-01-01T00:00:00Z"
    )
    written = rec.to_annotations(started, "Restarting")
    assert written[rec.COUNT_ANNOTATION] == "1"
    assert written[rec.STATUS_ANNOTATION] == "Restarting"
    read = rec.parse(written)
    assert read == started
    assert read.in_progress is not None and read.in_progress.pods == (PodRef("u1", "w0", force=True),)
    assert rec.parse(rec.to_annotations(read.finished(), "done")).in_progress is None


def test_the_visible_count_wins_so_a_person_can_reset_the_budget() -> None:
    written = rec.to_annotations(RestartRecord(count=3), "x")
    written[rec.COUNT_ANNOTATION] = "0"
    assert rec.parse(written).count == 0


@pytest.mark.parametrize("raw", ["{", "[]", '{"inProgress": {"count": 1}}', "null", '"text"'])
def test_a_damaged_record_reads_as_empty_and_keeps_the_count(raw: str) -> None:
    read = rec.parse({rec.COUNT_ANNOTATION: "2", rec.RECORD_ANNOTATION: raw})
    assert read.count == 2
    assert read.in_progress is None


@pytest.mark.parametrize("raw", ["-1", "two", "", " "])
def test_a_garbage_count_falls_back_to_the_record(raw: str) -> None:
    stored = rec.to_annotations(RestartRecord(count=4), "x")
    stored[rec.COUNT_ANNOTATION] = raw
    assert rec.parse(stored).count == 4


def test_no_annotations_is_a_fresh_record() -> None:
    assert rec.parse({}) == RestartRecord()


def test_handled_keys_and_pods_are_bounded() -> None:
    record = RestartRecord()
    for index in range(100):
        record = record.starting(
            (f"k{index}",), tuple(PodRef(f"u{index}-{n}", "p") for n in range(10)), "t"
        ).finished()
    assert len(record.handled) == rec.HANDLED_LIMIT
    assert record.handled[-1] == "k99"
    assert len(record.brought_down) == rec.BROUGHT_DOWN_LIMIT
    assert record.count == 100
    assert len(json.dumps(rec.to_annotations(record, "x"))) < 32 * 1024
