"""The blast-radius guard: shares of jobs and nodes within a sliding window (pure)."""
from __future__ import annotations

import pytest

from hyperpod_deps.autorestart.guard import BlastRadiusGuard, GuardSettings, allowance

WINDOW = 600.0


def guard(max_job_percent: int, max_node_percent: int) -> BlastRadiusGuard:
    return BlastRadiusGuard(GuardSettings(max_job_percent, max_node_percent, WINDOW))


def names(prefix: str, count: int) -> set[str]:
    return {f"{prefix}{i}" for i in range(count)}


JOBS4, NODES10 = names("job-", 4), names("n", 10)


@pytest.mark.parametrize(("percent", "total", "floor", "expected"), [
    (50, 10, 1, 5), (50, 3, 1, 1), (20, 5, 1, 1), (20, 100, 1, 20), (50, 0, 1, 1), (30, 10, 0, 3),
    (100, 7, 1, 7), (20, 14, 1, 2),
])
def test_allowance_is_the_percentage_rounded_down_never_below_the_floor(percent: int, total: int, floor: int,
                                                                        expected: int) -> None:
    assert allowance(percent, total, floor) == expected


def test_half_the_opted_in_jobs_may_restart_in_a_window_then_it_stops_and_says_why() -> None:
    g = guard(50, 100)
    assert [g.admit(t, f"job-{t}", {f"n{t}"}, JOBS4, NODES10).allowed for t in (0, 1)] == [True, True]
    refused = g.admit(2, "job-2", {"n2"}, JOBS4, NODES10)
    assert not refused.allowed and refused.limit == "jobs"
    assert refused.reason == ("auto-restart paused: it would make 3 of 4 opted-in jobs restarted within "
                              "600s, above the limit of 2 (maxJobPercent 50)")
    assert refused.retry_at == WINDOW  # the first restart leaves the window then


def test_a_job_already_restarted_in_the_window_counts_once() -> None:
    g = guard(50, 100)
    jobs = {"job-a", "job-b"}
    assert g.admit(0, "job-a", {"n1"}, jobs, NODES10).allowed
    assert g.admit(5, "job-a", {"n1"}, jobs, NODES10).allowed  # its second fault: still one job
    assert not g.admit(6, "job-b", {"n2"}, jobs, NODES10).allowed


def test_a_restarted_job_since_deleted_no_longer_counts() -> None:
    g = guard(50, 100)
    assert g.admit(0, "job-a", {"n1"}, {"job-a", "job-b"}, NODES10).allowed
    assert g.admit(1, "job-b", {"n2"}, {"job-b", "job-c"}, NODES10).allowed  # job-a is gone


def test_the_window_slides() -> None:
    g = guard(50, 100)
    jobs = {"job-a", "job-b"}
    assert g.admit(0, "job-a", {"n1"}, jobs, NODES10).allowed
    assert not g.admit(WINDOW - 1, "job-b", {"n2"}, jobs, NODES10).allowed
    assert g.admit(WINDOW + 1, "job-b", {"n2"}, jobs, NODES10).allowed


def test_faults_on_too_many_nodes_stop_restarts_even_for_a_single_job() -> None:
    g = guard(100, 20)
    refused = g.admit(0, "job-a", {"n1", "n2", "n3"}, {"job-a"}, NODES10)
    assert not refused.allowed and refused.limit == "nodes"
    assert "faults of 3 of 10 nodes within 600s, above the limit of 2 (maxNodePercent 20)" in refused.reason
    assert refused.retry_at is None  # nothing in the window to wait for


def test_nodes_add_up_across_jobs_and_a_deleted_one_still_counts() -> None:
    g = guard(100, 20)
    jobs = names("job-", 5)
    assert g.admit(0, "job-0", {"n1"}, jobs, NODES10).allowed
    assert g.admit(1, "job-1", {"n1", "n2"}, jobs, NODES10 - {"n2"}).allowed  # n2 deleted: 2 of 10
    refused = g.admit(2, "job-2", {"n3"}, jobs, NODES10 - {"n2"})
    assert not refused.allowed and "3 of 10 nodes" in refused.reason


def test_a_small_cluster_still_recovers_from_one_fault() -> None:
    g = guard(20, 20)
    assert g.admit(0, "only-job", {"n1"}, {"only-job"}, {"n1", "n2"}).allowed


def test_a_refused_restart_is_not_counted() -> None:
    g = guard(50, 100)
    jobs = {"job-a", "job-b"}
    assert g.admit(0, "job-a", {"n1"}, jobs, NODES10).allowed
    assert not g.admit(1, "job-b", {"n2"}, jobs, NODES10).allowed
    assert g.admit(2, "job-a", {"n1"}, jobs, NODES10).allowed  # job-b left no trace
