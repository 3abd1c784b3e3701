"""One list-then-watch loop for every component that follows objects on the API server.

The loop, as client-go's reflector runs it:

1. list (a consistent snapshot) and hand the whole list to the handler, which replaces what it
   knew: a relist is the only way to learn of deletions missed while away;
2. watch from the list's resourceVersion, asking for bookmarks, and hand each change over;
   a bookmark carries no object, only a newer resourceVersion to resume from;
3. when the server ends the watch (its timeout), watch again from the newest resourceVersion
   seen, without listing;
4. when that point has expired (410 Gone), list again at once: nothing failed;
5. any other error backs off (doubling, with jitter, so agents that lost the API server together
   do not come back together) and lists again: events may have been missed.

A kind the server does not serve (a CRD not installed yet) is handed over as an empty list and
looked up again later. The loop never dies of an error; it ends when `stop` is set, and after
that hands nothing more to the handler.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from hyperpod_deps.core.backoff import Backoff
from hyperpod_deps.core.jsonlog import log
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.errors import KubeError, RequestFailed
from hyperpod_deps.kube.resources import ResourceType, Snapshot, WatchEvent

NOT_SERVED_RETRY_SECONDS = 60.0
GONE = 410


class ListWatch(Protocol):
    """What the informer needs of a connection: `Kube` is one, tests use an in-memory one."""

    def resource_type(self, api_version: str, kind: str) -> ResourceType | None: ...

    def snapshot(self, rtype: ResourceType, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> Snapshot: ...

    def watch(self, rtype: ResourceType, resource_version: str, namespace: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int = 60) -> Generator[WatchEvent, None, None]: ...


class Handler(Protocol):
    def listed(self, items: list[Manifest]) -> None:
        """The whole current list: after the first list, after a 410, after an error."""

    def changed(self, event_type: str, obj: Manifest) -> None:
        """ADDED, MODIFIED or DELETED, in the order the server sent them."""


@dataclass(frozen=True)
class Query:
    api_version: str
    kind: str
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None


Source = TypeVar("Source", bound=ListWatch)


@dataclass
class Informer(Generic[Source]):
    """`connect` is called once, in the informer's thread, and retried until it works;
    `disconnect` gets what it returned when the informer ends (leave it out for a shared one)."""

    query: Query
    handler: Handler
    connect: Callable[[], Source]
    stop: threading.Event
    logger: logging.Logger
    watch_seconds: int = 300
    backoff: Backoff = field(default_factory=lambda: Backoff(30.0, first=1.0, jitter=0.2))
    on_error: Callable[[Exception], None] = lambda error: None
    disconnect: Callable[[Source], None] = lambda source: None
    wait: Callable[[float], object] | None = None  # stop.wait unless given (tests)

    def start(self, name: str) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=name, daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        source: Source | None = None
        try:
            while not self.stop.is_set():
                try:
                    source = source or self.connect()
                    self._list_and_watch(source)
                except Exception as error:  # a malformed answer must not end the loop either
                    self._failed(error)
        finally:
            if source is not None:
                self.disconnect(source)

    def _pause(self, seconds: float) -> None:
        (self.wait or self.stop.wait)(seconds)

    def _failed(self, error: Exception) -> None:
        self.on_error(error)
        delay = self.backoff.failed(0.0)
        level = logging.WARNING if isinstance(error, KubeError) else logging.ERROR
        log(self.logger, level, "watch failed; listing again", resource=self.query.kind,
            retry_in_seconds=round(delay, 2), error=str(error) or repr(error))
        self._pause(delay)

    def _list_and_watch(self, source: Source) -> None:
        rtype = source.resource_type(self.query.api_version, self.query.kind)
        if rtype is None:
            log(self.logger, logging.INFO, "kind not served (CRD not installed?); looking again later",
                resource=self.query.kind, api_version=self.query.api_version)
            self._deliver_list([])
            self._pause(NOT_SERVED_RETRY_SECONDS)
            return
        snapshot = source.snapshot(rtype, self.query.namespace, self.query.label_selector,
                                   self.query.field_selector)
        self._deliver_list(snapshot.items)
        version = snapshot.resource_version
        while not self.stop.is_set():
            try:
                version = self._watch(source, rtype, version)
            except RequestFailed as error:
                if error.status != GONE:
                    raise
                log(self.logger, logging.INFO, "watch expired; listing again", resource=self.query.kind)
                return

    def _watch(self, source: Source, rtype: ResourceType, version: str) -> str:
        """Hand over the changes after `version`; the newest resourceVersion seen.

        An event (a bookmark too) or a watch the server ended in good order resets the backoff;
        a successful list does not: where lists succeed and every watch fails (RBAC without
        `watch`), the delay must still grow."""
        events = source.watch(rtype, version, self.query.namespace, self.query.label_selector,
                              self.query.field_selector, self.watch_seconds)
        with closing(events):  # on a stop, the connection goes back now, not when collected
            for event in events:
                if self.stop.is_set():
                    break
                self.backoff.succeeded()
                version = event.resource_version or version
                if event.type != "BOOKMARK":
                    self.handler.changed(event.type, event.object)
        self.backoff.succeeded()
        return version

    def _deliver_list(self, items: list[Manifest]) -> None:
        if not self.stop.is_set():
            self.handler.listed(items)
