"""The controller's watches: the shared informer per resource type, feeding the queue the
controller loop drains. A (re)list puts the whole list (`Listed`); after that each change comes
alone (`Changed`); a kind whose CRD is not installed is listed as empty.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.informer import Informer, Query


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
class ToQueue:
    resource: str  # the name updates carry: "pods", "nodes" or a job kind
    out: queue.Queue[Update]

    def listed(self, items: list[Manifest]) -> None:
        self.out.put(Listed(self.resource, items))

    def changed(self, event_type: str, obj: Manifest) -> None:
        self.out.put(Changed(self.resource, event_type, obj))


def watch(resource: str, query: Query, connect: Callable[[], Kube], out: queue.Queue[Update],
          stop: threading.Event, timeout_seconds: int, logger: logging.Logger,
          on_error: Callable[[Exception], None]) -> threading.Thread:
    """Each watch has a connection of its own (a watch holds one for minutes), closed at the end."""
    informer = Informer(query, ToQueue(resource, out), connect, stop, logger, timeout_seconds,
                        on_error=on_error, disconnect=lambda kube: kube.close())
    return informer.start(f"watch-{resource}")
