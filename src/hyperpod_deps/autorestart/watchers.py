"""List+watch of one resource type in a thread, feeding a queue the controller loop drains.

A (re)list puts the whole list (`Listed`); after that each change comes alone (`Changed`).
Bookmarks move the resume point; an expired one (410) means list again. Errors back off and
retry: a watcher never dies of an API error, and a kind whose CRD is not installed is listed
as empty and looked up again later.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hyperpod_deps.core.backoff import Backoff
from hyperpod_deps.core.jsonlog import log
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import KubeError, RequestFailed

MAX_BACKOFF_SECONDS = 30.0
NOT_SERVED_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Listed:
    resource: str
    items: list[Manifest]


@dataclass(frozen=True)
class Changed:
    resource: str
    type: str
    object: Manifest


Update = Listed | Changed


@dataclass(frozen=True)
class WatchSpec:
    resource: str  # the name updates carry: "pods", "nodes" or a job kind
    api_version: str
    kind: str
    label_selector: str | None = None


class Watcher(threading.Thread):
    def __init__(
        self,
        spec: WatchSpec,
        connect: Callable[[], Kube],
        out: queue.Queue[Update],
        stop: threading.Event,
        timeout_seconds: int,
        logger: logging.Logger,
        on_error: Callable[[str], None] = lambda operation: None,
    ) -> None:
        super().__init__(name=f"watch-{spec.resource}", daemon=True)
        self.spec, self._connect, self._out, self._stop = spec, connect, out, stop
        self._timeout, self._logger, self._on_error = timeout_seconds, logger, on_error

    def run(self) -> None:
        kube: Kube | None = None
        backoff = Backoff(MAX_BACKOFF_SECONDS, first=1.0, jitter=0.2)
        try:
            while not self._stop.is_set():
                try:
                    kube = kube or self._connect()
                    self._list_and_watch(kube)
                    backoff.succeeded()
                except KubeError as error:
                    self._on_error(f"watch {self.spec.resource}")
                    wait = backoff.failed(0.0)
                    log(
                        self._logger,
                        logging.WARNING,
                        "watch failed; retrying",
                        resource=self.spec.resource,
                        error=str(error),
                        retry_in_seconds=round(wait, 2),
                    )
                    self._stop.wait(wait)
        finally:
            if kube is not None:
                kube.close()

    def _list_and_watch(self, kube: Kube) -> None:
        rtype = kube.resource_type(self.spec.api_version, self.spec.kind)
        if rtype is None:
            log(
                self._logger,
                logging.INFO,
                "kind not served (CRD not installed?); looking again later",
                resource=self.spec.resource,
                api_version=self.spec.api_version,
            )
            self._out.put(Listed(self.spec.resource, []))
            self._stop.wait(NOT_SERVED_RETRY_SECONDS)
            return
        snapshot = kube.snapshot(rtype, label_selector=self.spec.label_selector)
        self._out.put(Listed(self.spec.resource, snapshot.items))
        version = snapshot.resource_version
        while not self._stop.is_set():
            try:
                version = self._watch(kube, rtype, version)
            except RequestFailed as error:
                if error.status != 410:
                    raise
                log(self._logger, logging.INFO, "watch expired; listing again", resource=self.spec.resource)
                return

    def _watch(self, kube: Kube, rtype: ResourceType, version: str) -> str:
        for event in kube.watch(
            rtype, version, label_selector=self.spec.label_selector, timeout_seconds=self._timeout
        ):
            if self._stop.is_set():
                break
            version = event.resource_version or version
            if event.type != "BOOKMARK":
                self._out.put(Changed(self.spec.resource, event.type, event.object))
        return version
