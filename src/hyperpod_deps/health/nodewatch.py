"""A thread that keeps the agent's copy of its node fresh: list, then watch, that one node.

With a fresh copy at hand a quarantine is one request (the compare-and-swap PUT), not a read
and a write; and a person's label or a new bootID reaches the policy within moments.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from hyperpod_deps.core.backoff import Backoff
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.writer import FIRST_BACKOFF_SECONDS
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import KubeError, RequestFailed
from hyperpod_deps.kube.nodes import node_events, node_snapshot

WATCH_SECONDS = 300


@dataclass(frozen=True)
class NodeSeen:
    node: Manifest


class NodeWatch(threading.Thread):
    def __init__(self, kube: Kube, name: str, inbox: queue.SimpleQueue[object], stop: threading.Event,
                 log: AgentLog, max_backoff_seconds: float) -> None:
        super().__init__(name="node-watch", daemon=True)
        self.kube, self.node_name, self.inbox, self.stop, self.log = kube, name, inbox, stop, log
        self.backoff = Backoff(max_backoff_seconds, FIRST_BACKOFF_SECONDS)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._list_and_watch()
            except KubeError as error:
                gone = isinstance(error, RequestFailed) and error.status == 410
                if not gone:  # 410: the resume point expired, list again at once
                    delay = self.backoff.failed(0.0)
                    self.log.warn("node watch interrupted; retrying", retry_in_seconds=round(delay, 2),
                                  error=str(error))
                    self.stop.wait(delay)
            except Exception as error:  # the watch must outlive a malformed answer
                self.log.error("node watch failed; retrying", error=repr(error))
                self.stop.wait(self.backoff.failed(0.0))

    def _list_and_watch(self) -> None:
        snapshot = node_snapshot(self.kube, self.node_name)
        self.backoff.succeeded()
        for node in snapshot.items:
            self.inbox.put(NodeSeen(node))
        version = snapshot.resource_version
        while not self.stop.is_set():
            for event in node_events(self.kube, self.node_name, version, WATCH_SECONDS):
                if event.type in ("ADDED", "MODIFIED"):
                    self.inbox.put(NodeSeen(event.object))
                version = event.resource_version or version
                if self.stop.is_set():
                    return
