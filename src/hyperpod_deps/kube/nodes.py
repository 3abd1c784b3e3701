"""Typed verbs on Nodes for agents that mark their own node.

Writes are compare-and-swap: the node as read (its resourceVersion) is changed and PUT back, so
a concurrent change by a person, the kubelet or HyperPod is never overwritten blindly. On a
conflict (409) the node is read again and the caller decides again from what is there now.
Labels, annotations and taints go in one PUT of the Node; conditions in a PUT of its status
subresource (the API server ignores status in the first and everything else in the second).

Two PUTs are never one atomic change, so their order is chosen for what a reader can see in
between. Readers act on the health label and taint and look in the conditions for the reason:

1. conditions set True (a status PUT),
2. labels, annotations and the taint (a Node PUT),
3. conditions set False (a status PUT).

At every instant the labels and taint are those of the node before or after the update, and
the True conditions include those of both: a label or taint never appears before the condition
that explains it, and a condition is cleared only after the label and taint that rested on it
are gone. A conflict part-way leaves one of these in-between states, which satisfy the same
rule, and the caller decides again from it. So a caller must decide from the node alone, never
assume that every part of its last decision was written (the health agent remembers a condition
to clear until the node shows it cleared), nor that a decision made again replaces the one
before: once a part of a decision is written, that decision has happened (the health agent
records the events of every decision `landed` reports, not only of the last).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.nodestate import NodeUpdate, apply_conditions, apply_metadata
from hyperpod_deps.kube.errors import KubeError, RequestFailed
from hyperpod_deps.kube.informer import ListWatch, Query
from hyperpod_deps.kube.resources import ObjectVerbs, ResourceType

NODE = ResourceType("v1", "Node", "nodes", False)
CONFLICT_ATTEMPTS = 5

Decide = Callable[[Manifest], NodeUpdate]
Clock = Callable[[], str]  # RFC 3339 now, for condition timestamps
Change = Callable[[Manifest], Manifest | None]  # one part of an update; None: nothing changes


class NodeAgentApi(ObjectVerbs, ListWatch, Protocol):
    """What an agent that marks its own node needs of a connection: the verbs below and a watch
    of its node. The official client (client.Kube) is one; the node agent's own (agent_client.py)
    is another, without the official client's weight."""

    def close(self) -> None: ...


class NodeGone(KubeError):
    """The node does not exist (deleted, or not registered yet)."""


class StillConflicting(KubeError):
    """Every attempt met a newer version of the node: something writes it in a tight loop."""


def get_node(kube: ObjectVerbs, name: str) -> Manifest:
    node = kube.get(NODE, name)
    if node is None:
        raise NodeGone(f"node {name} does not exist")
    return node


def update_node(kube: ObjectVerbs, name: str, decide: Decide, now: Clock, node: Manifest | None = None,
                attempts: int = CONFLICT_ATTEMPTS, landed: Callable[[], None] = lambda: None,
                ) -> tuple[Manifest, int]:
    """Apply what `decide` wants to the node; returns the node as written and the number of
    requests made (refused ones included). `node` (a fresh copy, e.g. from a watch) saves the
    first read: a change then costs one request per part changed. `landed` is called when the
    first part of the latest decision is written: that decision has taken effect, whatever
    becomes of its later parts (and even if this call then raises)."""
    requests = 0
    for _ in range(attempts):
        if node is None:
            node = get_node(kube, name)
            requests += 1
        written, made = _write(kube, node, decide(node), now, landed)
        requests += made
        if written is not None:
            return written, requests
        node = None  # someone else wrote it first: read again, decide again
    raise StillConflicting(f"node {name}: still conflicting after {attempts} attempts")


def _write(kube: ObjectVerbs, node: Manifest, update: NodeUpdate, now: Clock,
           landed: Callable[[], None]) -> tuple[Manifest | None, int]:
    """Each changed part in the module's order, each PUT on the node the previous one returned;
    (None, requests made) at the first conflict, after which nothing more is sent."""
    made = 0
    for subresource, change in _parts(update, now):
        changed = change(node)
        if changed is None:
            continue
        made += 1
        try:
            node = kube.replace(changed, subresource=subresource)
        except RequestFailed as error:
            if error.status != 409:
                raise
            return None, made
        if made == 1:
            landed()
    return node, made


def _parts(update: NodeUpdate, now: Clock) -> list[tuple[str | None, Change]]:
    """The update as (subresource, change) in the order readers may see it (module docstring)."""
    stamp = now() if update.conditions else ""  # one time for every condition of the decision
    parts: list[tuple[str | None, Change]] = []
    if update.raised:
        parts.append(("status", lambda node: apply_conditions(node, update.raised, stamp)))
    if update.touches_metadata:
        parts.append((None, lambda node: apply_metadata(node, update)))
    if update.cleared:
        parts.append(("status", lambda node: apply_conditions(node, update.cleared, stamp)))
    return parts


def one_node(name: str) -> Query:
    """That node alone, for an informer: a field selector, so the server sends no other node."""
    return Query(NODE.api_version, NODE.kind, field_selector=f"metadata.name={name}")
