"""Simulated nodes for the detectors, and a watch that notes when each change of a node reached
the benchmark (time.monotonic() as the event arrived)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hyperpod_deps.core import wire
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.informer import Informer, Query
from hyperpod_deps.localcluster.nodespec import INSTANCE_GROUP_LABEL, InstanceGroup, node_object

Node = dict[str, Any]
GROUP = InstanceGroup("npd-bench", "ml.p5.48xlarge", 1, "us-west-2a")
SELECTOR = f"{INSTANCE_GROUP_LABEL}={GROUP.name}"


def create_node(kube: Kube, name: str) -> None:
    """A p5 node kwok keeps Ready, labelled Schedulable, as `cluster up` makes them."""
    kube.create(node_object(name, GROUP, "us-west-2"))


def _conditions(node: Node) -> list[dict[str, Any]]:
    return list((node.get("status") or {}).get("conditions") or [])


def condition_true(condition_type: str) -> Callable[[Node], bool]:
    def check(node: Node) -> bool:
        return any(c.get("type") == condition_type and c.get("status") == "True" for c in _conditions(node))
    return check


def condition_present(condition_type: str) -> Callable[[Node], bool]:
    def check(node: Node) -> bool:
        return any(c.get("type") == condition_type for c in _conditions(node))
    return check


def quarantined(node: Node) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return wire.is_unschedulable(labels.get(wire.NODE_HEALTH_LABEL))


class NodeWatch:
    """Every version of the benchmark's nodes from the shared informer, each with the time it
    arrived here."""

    def __init__(self, kube: Kube) -> None:
        self.seen: dict[str, list[tuple[float, Node]]] = {}
        self.arrived = threading.Condition()
        self.stopping = threading.Event()
        self._informer = Informer(Query("v1", "Node", label_selector=SELECTOR), self, lambda: kube,
                                  self.stopping, logging.getLogger("benchmarks.node_watch"), watch_seconds=30)

    def start(self) -> None:
        self._informer.start("node-watch")

    def listed(self, items: list[Node]) -> None:
        self._note(items)

    def changed(self, event_type: str, obj: Node) -> None:
        if event_type in ("ADDED", "MODIFIED"):
            self._note([obj])

    def _note(self, nodes: list[Node]) -> None:
        arrived = time.monotonic()
        with self.arrived:
            for node in nodes:
                self.seen.setdefault(node["metadata"]["name"], []).append((arrived, node))
            self.arrived.notify_all()

    def first(self, name: str, predicate: Callable[[Node], bool], timeout: float) -> float | None:
        """When the first version of node `name` satisfying `predicate` arrived (waiting up to `timeout`)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = next((at for at, node in self.seen.get(name, []) if predicate(node)), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self.arrived.wait(left)

    def stop(self) -> None:
        self.stopping.set()
