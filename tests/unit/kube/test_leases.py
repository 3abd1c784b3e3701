"""Leader election on the in-memory API, with each candidate's own clock: one leader at a time,
a takeover only after a whole lease duration unrenewed, a leader that cannot renew stops before
anyone may take over, and a clean exit hands the Lease over at once."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed
from hyperpod_deps.kube.leases import LEASE, LeaderElector, read_lease
from tests.support.fake_api import FakeApi, disconnected

DURATION, DEADLINE = 15.0, 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def candidate(api: FakeApi, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(cast(Kube, api), "kube-system", "job-auto-restart", identity, DURATION, DEADLINE,
                         clock=clock, wall=lambda: datetime(2026, 12, 6, tzinfo=UTC))


def holder(api: FakeApi) -> str:
    lease = read_lease(cast(Kube, api), "kube-system", "job-auto-restart")
    return lease.holder if lease else ""


def test_the_first_candidate_leads_and_the_second_waits_while_it_renews() -> None:
    api, clock = FakeApi(), Clock()
    first, second = candidate(api, "a", clock), candidate(api, "b", clock)
    assert first.try_acquire_or_renew() and first.is_leader()
    for _ in range(10):  # 10 rounds of 2 s: longer than a lease duration, but renewed throughout
        clock.now += 2
        assert first.try_acquire_or_renew()
        assert not second.try_acquire_or_renew()
    assert holder(api) == "a" and not second.is_leader()


def test_a_standby_takes_over_a_whole_lease_duration_after_the_last_renewal_it_saw() -> None:
    api, clock = FakeApi(), Clock()
    first, second = candidate(api, "a", clock), candidate(api, "b", clock)
    first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()  # b sees the Lease at 100
    clock.now += DURATION - 0.5
    assert not second.try_acquire_or_renew()
    clock.now += 0.5
    assert second.try_acquire_or_renew() and holder(api) == "b"
    lease = api.get(LEASE, "job-auto-restart", "kube-system")
    assert lease is not None and lease["spec"]["leaseTransitions"] == 1


def test_a_leader_that_cannot_renew_stops_before_a_standby_may_start() -> None:
    api, clock = FakeApi(), Clock()
    first = candidate(api, "a", clock)
    first.try_acquire_or_renew()
    api.fail("get", *(disconnected("GET leases") for _ in range(10)))
    clock.now += DEADLINE - 0.1
    assert first.try_acquire_or_renew() and first.is_leader()  # within its deadline
    clock.now += 0.1
    assert not first.try_acquire_or_renew() and not first.is_leader()
    assert DEADLINE < DURATION  # the standby could not have taken over yet


def test_of_two_writes_of_one_lease_version_only_one_wins() -> None:
    api, clock = FakeApi(), Clock()
    first, second = candidate(api, "a", clock), candidate(api, "b", clock)
    api.fail("create", RequestFailed("CREATE leases job-auto-restart: already exists", 409))
    assert not first.try_acquire_or_renew() and not first.is_leader()
    assert second.try_acquire_or_renew() and holder(api) == "b"


def test_a_clean_exit_hands_the_lease_to_the_standby_at_once() -> None:
    api, clock = FakeApi(), Clock()
    first, second = candidate(api, "a", clock), candidate(api, "b", clock)
    first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()
    first.release()
    assert not first.is_leader() and holder(api) == ""
    assert second.try_acquire_or_renew() and holder(api) == "b"
