"""Typed verbs on Nodes for agents that mark their own node.

Writes are compare-and-swap: the node as read (its resourceVersion) is changed and PUT back, so
a concurrent change by a person, the kubelet or HyperPod is never overwritten blindly. On a
conflict (409) the node is read again and the caller decides again from what is there now.
Labels, annotations and taints go in one PUT of the Node; conditions in one PUT of its status
subresource (the API server ignores status in the first and everything else in the second).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

from hyperpod_deps.core.nodestate import Manifest, NodeUpdate, apply_conditions, apply_metadata
from hyperpod_deps.kube.client import Kube, ResourceType, Snapshot, WatchEvent
from hyperpod_deps.kube.errors import KubeError, RequestFailed

NODE = ResourceType("v1", "Node", "nodes", False)
CONFLICT_ATTEMPTS = 5

Decide = Callable[[Manifest], NodeUpdate]
Clock = Callable[[], str]  # RFC 3339 now, for condition timestamps


class NodeGone(KubeError):
    """The node does not exist (deleted, or not registered yet)."""


class StillConflicting(KubeError):
    """Every attempt met a newer version of the node: something writes it in a tight loop."""


def get_node(kube: Kube, name: str) -> Manifest:
    node = kube.get(NODE, name)
    if node is None:
        raise NodeGone(f"node {name} does not exist")
    return node


def update_node(kube: Kube, name: str, decide: Decide, now: Clock, node: Manifest | None = None,
                attempts: int = CONFLICT_ATTEMPTS) -> tuple[Manifest, int]:
    """Apply what `decide` wants to the node; returns the node as written and the number of
    requests made. `node` (a fresh copy, e.g. from a watch) saves the first read: a change
    then costs one request per part changed."""
    requests = 0
    for _ in range(attempts):
        if node is None:
            node = get_node(kube, name)
            requests += 1
        update = decide(node)
        try:
            node, made = _write(kube, node, update, now)
            return node, requests + made
        except RequestFailed as error:
            if error.status != 409:
                raise
            requests += 1
            node = None  # someone else wrote it first: read again, decide again
    raise StillConflicting(f"node {name}: still conflicting after {attempts} attempts")


def _write(kube: Kube, node: Manifest, update: NodeUpdate, now: Clock) -> tuple[Manifest, int]:
    made = 0
    if update.touches_metadata:
        changed = apply_metadata(node, update)
        if changed is not None:
            node = kube.replace(changed)
            made += 1
    if update.conditions:
        changed = apply_conditions(node, update.conditions, now())
        if changed is not None:
            node = kube.replace(changed, subresource="status")
            made += 1
    return node, made


def node_snapshot(kube: Kube, name: str) -> Snapshot:
    """The node (zero or one item) and the resourceVersion to watch it from."""
    return kube.snapshot(NODE, field_selector=f"metadata.name={name}")


def node_events(kube: Kube, name: str, resource_version: str,
                timeout_seconds: int = 300) -> Iterator[WatchEvent]:
    """Changes to this one node (a field selector: the server sends no other node)."""
    return kube.watch(NODE, resource_version, field_selector=f"metadata.name={name}",
                      timeout_seconds=timeout_seconds)
