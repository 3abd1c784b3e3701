"""One leadership term against the in-memory API: its watches fill the index, a fault under an
opted-in job deletes the job's pods, records the restart on the job and says so in an Event;
a term that may no longer act writes nothing."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

import pytest

from hyperpod_deps.autorestart.actions import NotLeader
from hyperpod_deps.autorestart.metrics import PREFIX, Metrics
from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.autorestart.term import Term
from hyperpod_deps.core import wire
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.settings import convert
from hyperpod_deps.kube.client import Kube, ResourceType
from tests.support.fake_api import FakeApi
from tests.unit.autorestart.test_index import job, node, pod

PYTORCHJOB = ResourceType("kubeflow.org/v1", "PyTorchJob", "pytorchjobs", True)
POD = ResourceType("v1", "Pod", "pods", True)
NOW = 1_900_000_000.0
STEPS = 400  # at most 400 turns of 50 ms: the watches deliver within a few


def cluster(health_of_n1: str) -> FakeApi:
    api = FakeApi(hold=True)
    api.serve(PYTORCHJOB)
    api.put(job())
    for name in ("train-worker-0", "train-worker-1"):
        api.put({"apiVersion": "v1", "kind": "Pod", **pod(name, "n1")})
    api.put({"apiVersion": "v1", "kind": "Node", **node("n1", health_of_n1)})
    api.put({"apiVersion": "v1", "kind": "Node", **node("n2")})
    return api


def term(api: FakeApi, may_act: bool = True, metrics: Metrics | None = None) -> Term:
    settings = convert(ControllerSettings, {"platform": "generic", "kinds": ["PyTorchJob"]})
    return Term(lambda: cast(Kube, api), settings, lambda: may_act, "controller-0", metrics or Metrics(),
                logging.getLogger("test.term"), lambda: NOW)


def jobs_looked_at(metrics: Metrics) -> float:
    """Set by each turn that reconciled: once every watch has listed."""
    return metrics.registry.sample(f"{PREFIX}_jobs", {"kind": "PyTorchJob"}) or 0.0


def run_until(api: FakeApi, one: Term, done: Callable[[], bool]) -> bool:
    one.start()
    try:
        for _ in range(STEPS):
            one.step(0.05)
            if done():
                return True
        return False
    finally:
        one.close()
        api.close_watches()


def pods_left(api: FakeApi) -> list[str]:
    return [item["metadata"]["name"] for item in api.snapshot(POD).items]


def events(api: FakeApi) -> list[Manifest]:
    return [obj for key, obj in api.objects.items() if key[0] == "events.events.k8s.io"]


def test_a_fault_under_the_job_deletes_its_pods_and_records_the_restart() -> None:
    api = cluster(wire.UNSCHEDULABLE_PENDING_REPLACEMENT)
    assert run_until(api, term(api), lambda: not pods_left(api) and bool(events(api)))
    stored = api.get(PYTORCHJOB, "train", "team")
    assert stored is not None
    annotations = stored["metadata"]["annotations"]
    assert any("Restarted 1 time(s)" in str(value) for value in annotations.values()), annotations
    assert [e["reason"] for e in events(api)].count("AutoRestart") == 1


def test_healthy_nodes_leave_the_job_alone() -> None:
    api, metrics = cluster(wire.SCHEDULABLE), Metrics()
    assert run_until(api, term(api, metrics=metrics), lambda: jobs_looked_at(metrics) == 1)
    assert sorted(pods_left(api)) == ["train-worker-0", "train-worker-1"]
    assert not [verb for verb, _ in api.calls if verb in ("delete", "patch")]


def test_a_term_that_lost_its_lease_writes_nothing() -> None:
    api = cluster(wire.UNSCHEDULABLE_PENDING_REPLACEMENT)
    with pytest.raises(NotLeader):
        run_until(api, term(api, may_act=False), lambda: False)
    assert len(pods_left(api)) == 2
    assert not [verb for verb, _ in api.calls if verb in ("delete", "patch")]


def test_a_spent_budget_keeps_the_pods_and_says_what_to_raise() -> None:
    api = cluster(wire.UNSCHEDULABLE_PENDING_REPLACEMENT)
    spent = job()
    spent["metadata"]["annotations"][wire.MAX_RETRY_ANNOTATION] = "0"
    api.put(spent)

    def exhausted_events() -> list[Manifest]:
        return [e for e in events(api) if e["reason"] == "AutoRestartBudgetExhausted"]

    assert run_until(api, term(api), lambda: bool(exhausted_events()))
    (exhausted,) = exhausted_events()
    assert wire.MAX_RETRY_ANNOTATION in exhausted["note"]
    assert len(pods_left(api)) == 2
