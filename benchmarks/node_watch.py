"""Simulated nodes for the detectors, and a watch that notes when each change of a node reached
the benchmark (time.monotonic() as the event arrived)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hyperpod_deps.core import wire
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import KubeError
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


class NodeWatch(threading.Thread):
    """Every version of the benchmark's nodes from one list-then-watch, each with the time it
    arrived here."""

    def __init__(self, kube: Kube) -> None:
        super().__init__(name="node-watch", daemon=True)
        self.kube = kube
        self.seen: dict[str, list[tuple[float, Node]]] = {}
        self.changed = threading.Condition()
        self.stopping = threading.Event()

    def run(self) -> None:
        rtype = self.kube.resource_type("v1", "Node")
        assert rtype is not None
        while not self.stopping.is_set():
            try:
                snapshot = self.kube.snapshot(rtype, label_selector=SELECTOR)
                self._note(snapshot.items)
                for event in self.kube.watch(rtype, snapshot.resource_version, label_selector=SELECTOR,
                                             timeout_seconds=30):
                    if self.stopping.is_set():
                        return
                    if event.type in ("ADDED", "MODIFIED"):
                        self._note([event.object])
            except KubeError:
                time.sleep(0.2)  # the next list-then-watch picks up what was missed

    def _note(self, nodes: list[Node]) -> None:
        arrived = time.monotonic()
        with self.changed:
            for node in nodes:
                self.seen.setdefault(node["metadata"]["name"], []).append((arrived, node))
            self.changed.notify_all()

    def first(self, name: str, predicate: Callable[[Node], bool], timeout: float) -> float | None:
        """When the first version of node `name` satisfying `predicate` arrived (waiting up to `timeout`)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((at for at, node in self.seen.get(name, []) if predicate(node)), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self.changed.wait(left)

    def stop(self) -> None:
        self.stopping.set()
