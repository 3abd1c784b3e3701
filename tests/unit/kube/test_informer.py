"""The shared informer against the in-memory API: what reaches the handler, from which
resourceVersion each watch resumes, and how long it waits after each kind of failure."""
from __future__ import annotations

import logging
import threading

import pytest

from hyperpod_deps.core.backoff import Backoff
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import ResourceType
from hyperpod_deps.kube.errors import Forbidden
from hyperpod_deps.kube.informer import NOT_SERVED_RETRY_SECONDS, Informer, Query
from tests.support.fake_api import FakeApi, disconnected, gone

NODE = ResourceType("v1", "Node", "nodes", False)
NODES = Query("v1", "Node")
JOB = ResourceType("kubeflow.org/v1", "PyTorchJob", "pytorchjobs", True)


def node(name: str, **labels: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def listed(self, items: list[Manifest]) -> None:
        self.seen.append(("listed", *(item["metadata"]["name"] for item in items)))

    def changed(self, event_type: str, obj: Manifest) -> None:
        self.seen.append((event_type, obj["metadata"]["name"]))


class Run:
    """An informer over `api`, run to the end of the api's steps in the test's thread."""

    def __init__(self, api: FakeApi, query: Query = NODES) -> None:
        self.api, self.handler, self.waits = api, Recorder(), list[float]()
        self.disconnected: list[FakeApi] = []
        self.errors: list[Exception] = []
        self.informer = Informer(query, self.handler, lambda: api, api.stop, logging.getLogger("test"),
                                 backoff=Backoff(30.0, first=1.0, jitter=0.2, uniform=lambda: 0.5),
                                 on_error=self.errors.append, disconnect=self.disconnected.append,
                                 wait=self.waits.append)

    def __call__(self) -> list[tuple[str, ...]]:
        self.informer.run()
        return self.handler.seen


def test_a_list_then_each_change_in_order_and_no_bookmark() -> None:
    api = FakeApi()
    api.put(node("a"))
    run = Run(api)
    api.then(lambda: api.put(node("b")), lambda: api.put(node("a", role="x")), lambda: api.bookmark(NODE),
             lambda: api.remove(node("b")))
    assert run() == [("listed", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert run.waits == [] and run.errors == []
    assert [verb for verb, _ in api.calls].count("list") == 1  # a watch that ends is resumed, not relisted


def test_each_watch_resumes_from_the_newest_version_a_bookmark_included() -> None:
    api = FakeApi()
    api.put(node("a"))
    run = Run(api)
    listed_at = api.snapshot(NODE).resource_version
    marks: list[int] = []
    api.then(lambda: marks.append(api.bookmark(NODE)), lambda: None)
    run()
    assert api.watched_from == [listed_at, listed_at, str(marks[0])]


def test_only_the_selected_objects_come_through() -> None:
    api = FakeApi()
    api.put(node("mine"))
    api.put(node("other"))
    run = Run(api, Query("v1", "Node", field_selector="metadata.name=mine"))
    api.then(lambda: api.put(node("other", x="1")), lambda: api.put(node("mine", x="1")))
    assert run() == [("listed", "mine"), ("MODIFIED", "mine")]


def test_an_expired_resume_point_lists_again_at_once() -> None:
    api = FakeApi()
    api.put(node("a"))
    run = Run(api)
    # A change lost with the expired history reaches the handler through the new list.
    def change_then_expire() -> None:
        api.put(node("b"))
        api.compact()
    api.then(change_then_expire, lambda: api.put(node("c")))
    assert run() == [("listed", "a"), ("listed", "a", "b"), ("ADDED", "c")]
    assert run.waits == [] and run.errors == []


def test_a_410_in_the_stream_lists_again_at_once() -> None:
    api = FakeApi()
    api.put(node("a"))
    api.fail("watch", gone())
    assert Run(api)() == [("listed", "a"), ("listed", "a")]


def test_a_broken_watch_backs_off_then_lists_again_and_misses_nothing() -> None:
    api = FakeApi()
    api.put(node("a"))
    run = Run(api)
    def two_changes_then_a_broken_watch() -> None:
        api.put(node("b"))
        api.put(node("c"))
        api.fail("watch-event", disconnected())
    api.then(two_changes_then_a_broken_watch, lambda: None)
    # "c" changed after the break, "b" was delivered before it; the relist carries both.
    assert run() == [("listed", "a"), ("ADDED", "b"), ("listed", "a", "b", "c")]
    assert run.waits == [pytest.approx(1.1)]
    assert len(run.errors) == 1


def test_failures_in_a_row_double_the_wait_with_jitter_and_a_delivered_event_resets_it() -> None:
    api = FakeApi()
    api.put(node("a"))
    api.fail("list", disconnected("list"), disconnected("list"), disconnected("list"))
    run = Run(api)
    api.then(lambda: api.put(node("b")), lambda: api.fail("watch", disconnected()))
    run()
    assert run.waits == pytest.approx([1.1, 2.2, 4.4, 1.1])


def test_a_list_that_succeeds_does_not_reset_the_wait_when_every_watch_is_refused() -> None:
    api = FakeApi()
    api.fail("watch", *(Forbidden("WATCH nodes: forbidden", 403) for _ in range(3)))
    run = Run(api)
    run()
    assert run.waits == pytest.approx([1.1, 2.2, 4.4])


def test_a_malformed_answer_is_retried_like_an_api_error() -> None:
    api = FakeApi()
    api.put(node("a"))
    api.fail("watch", ValueError("Expecting value: line 1 column 1"))
    run = Run(api)
    assert run() == [("listed", "a"), ("listed", "a")]
    assert run.waits == pytest.approx([1.1])
    assert isinstance(run.errors[0], ValueError)


def test_a_kind_not_served_is_an_empty_list_until_its_crd_comes() -> None:
    api = FakeApi()
    run = Run(api, Query(JOB.api_version, JOB.kind))
    job = {"apiVersion": JOB.api_version, "kind": JOB.kind, "metadata": {"name": "j", "namespace": "ml"}}

    def crd_installed(seconds: float) -> None:
        run.waits.append(seconds)
        api.serve(JOB)
        api.put(job)

    run.informer.wait = crd_installed
    assert run() == [("listed",), ("listed", "j")]
    assert run.waits == [NOT_SERVED_RETRY_SECONDS]


def test_nothing_reaches_the_handler_after_stop_and_the_connection_is_closed_once() -> None:
    api = FakeApi()
    api.put(node("a"))
    run = Run(api)
    def change_then_stop() -> None:
        api.put(node("b"))
        api.stop.set()
    api.then(change_then_stop)
    assert run() == [("listed", "a")]
    assert run.disconnected == [api]


def test_a_connection_that_fails_is_tried_again() -> None:
    api = FakeApi()
    attempts: list[int] = []

    def connect() -> FakeApi:
        attempts.append(1)
        if len(attempts) == 1:
            raise disconnected("connect")
        return api

    run = Run(api)
    run.informer.connect = connect
    assert run() == [("listed",)]
    assert len(attempts) == 2 and run.waits == pytest.approx([1.1])


def test_started_in_a_thread_it_ends_when_stopped() -> None:
    stop = threading.Event()
    api = FakeApi(stop, hold=True)
    api.put(node("a"))
    handler = Recorder()
    informer = Informer(Query("v1", "Node"), handler, lambda: api, stop, logging.getLogger("test"))
    thread = informer.start("watch-nodes")
    api.put(node("b"))
    stop.set()
    api.close_watches()
    thread.join(timeout=10)
    assert not thread.is_alive()
