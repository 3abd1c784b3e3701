"""The agent's fresh copy of its own node: the shared informer on that one node, feeding the loop.

With a fresh copy at hand a quarantine is one request (the compare-and-swap PUT), not a read
and a write; and a person's label or a new bootID reaches the policy within moments.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from hyperpod_deps.core.backoff import Backoff
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.health.writer import FIRST_BACKOFF_SECONDS
from hyperpod_deps.kube.informer import Informer, ListWatch
from hyperpod_deps.kube.nodes import one_node

WATCH_SECONDS = 300
LOGGER = logging.getLogger("hyperpod_deps.health.nodewatch")


@dataclass(frozen=True)
class NodeSeen:
    node: Manifest


@dataclass(frozen=True)
class ToInbox:
    """Every version of the node goes to the loop; a deleted node is left to the writer's reads."""

    inbox: queue.SimpleQueue[object]

    def listed(self, items: list[Manifest]) -> None:
        for node in items:
            self.inbox.put(NodeSeen(node))

    def changed(self, event_type: str, obj: Manifest) -> None:
        if event_type in ("ADDED", "MODIFIED"):
            self.inbox.put(NodeSeen(obj))


def node_watch(kube: ListWatch, name: str, inbox: queue.SimpleQueue[object], stop: threading.Event,
               max_backoff_seconds: float) -> Informer[ListWatch]:
    return Informer(one_node(name), ToInbox(inbox), lambda: kube, stop, LOGGER, WATCH_SECONDS,
                    Backoff(max_backoff_seconds, FIRST_BACKOFF_SECONDS, jitter=0.2))
