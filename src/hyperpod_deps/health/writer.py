"""Writes the policy's decisions to the node: quarantines at once, the rest debounced, all of it
re-asserted periodically, and retried with backoff while the API server is away.

Faults stay pending until a write that carries them succeeds; the policy is idempotent in them,
so a write whose answer was lost is simply decided again against the node as it now is.
Events have fixed names (from the fault), so a retried create never makes a second one.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from hyperpod_deps.core.backoff import Backoff
from hyperpod_deps.core.health import Fault
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.nodestate import NodeUpdate
from hyperpod_deps.health import labels
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.metrics import Metrics
from hyperpod_deps.health.policy import Decision, Event, PolicyConfig, Recent, decide
from hyperpod_deps.health.state import NodeView
from hyperpod_deps.kube.errors import ClusterUnreachable, KubeError, RequestFailed
from hyperpod_deps.kube.events import record_event
from hyperpod_deps.kube.nodes import get_node, update_node
from hyperpod_deps.kube.resources import ObjectVerbs

CONTROLLER = "hyperpod-deps/health-agent"
FIRST_BACKOFF_SECONDS = 0.2
MAX_PENDING = 5000  # faults kept while they cannot be written
Clock = Callable[[], datetime]
Monotonic = Callable[[], float]


@dataclass
class Pending:
    faults: list[Fault] = field(default_factory=list)
    read_at: list[float] = field(default_factory=list)
    since: datetime | None = None  # when a non-urgent change first waited for the debounce
    due: float = 0.0  # monotonic time the debounce ends


class NodeWriter:
    def __init__(self, kube: ObjectVerbs, node_name: str, config: PolicyConfig, reassert_seconds: float,
                 max_backoff_seconds: float, metrics: Metrics, log: AgentLog, clock: Clock,
                 monotonic: Monotonic = time.monotonic) -> None:
        self.kube, self.name, self.config = kube, node_name, config
        self.metrics, self.log, self.clock, self.monotonic = metrics, log, clock, monotonic
        self.reassert_seconds = reassert_seconds
        self.node: Manifest | None = None
        self.pending = Pending()
        self.recent: Recent = {}
        self.events: list[tuple[Event, Manifest]] = []
        self.backoff = Backoff(max_backoff_seconds, FIRST_BACKOFF_SECONDS)
        self.events_backoff = Backoff(max_backoff_seconds, FIRST_BACKOFF_SECONDS)
        self.next_reassert = 0.0

    @property
    def idle(self) -> bool:
        """Every fault read so far is on the node: read positions may be saved."""
        return not self.pending.faults

    def add(self, faults: tuple[Fault, ...], read_at: float) -> None:
        known = set(self.pending.faults)
        for fault in faults:
            if fault in known:
                continue  # the same line twice in one second: one fault
            known.add(fault)
            self.pending.faults.append(fault)
            self.pending.read_at.append(read_at)
        if len(self.pending.faults) > MAX_PENDING:
            kept = shed(self.pending.faults, MAX_PENDING)
            self.log.warn("too many unwritten faults; dropped the oldest that quarantine nothing",
                          dropped=len(self.pending.faults) - len(kept), pending=len(kept))
            self.pending.faults = [self.pending.faults[i] for i in kept]
            self.pending.read_at = [self.pending.read_at[i] for i in kept]
        self.metrics.pending.set(len(self.pending.faults))

    def observe(self, node: Manifest) -> None:
        """A newer copy of the node (from the watch)."""
        self.node = node

    def wait_seconds(self) -> float:
        """How long the loop may sleep before `step` has something to do."""
        now = self.monotonic()
        # A re-assert is a write too: it waits out the backoff (else, with the API server away,
        # a re-assert already due would wake the loop at once, again and again).
        due = [max(self.next_reassert, self.backoff.retry_at)]
        if self.pending.faults or self.pending.since:
            due.append(max(self.backoff.retry_at, self.pending.due))
        if self.events:
            due.append(self.events_backoff.retry_at)
        return max(0.0, min(due) - now)

    def step(self) -> None:
        now = self.monotonic()
        if now >= self.backoff.retry_at:
            self._write(now)
        if self.events and now >= self.events_backoff.retry_at:
            self._send_events(now)

    def _write(self, now: float) -> None:
        decisions: list[Decision] = []
        landed: list[Decision] = []  # those of which a part is on the node
        try:
            if self.node is None or now >= self.next_reassert:
                self.node = get_node(self.kube, self.name)  # re-assert against a fresh read
                self.next_reassert = now + self.reassert_seconds
            decision = self._decide(self.node)
            if decision.update.empty:
                self.pending.since = None
                if self.pending.faults or decision.events:
                    self._commit(decision, [decision])
                return
            if not decision.write_now:
                if self.pending.since is None:
                    self.pending.since = self.clock()
                    self.pending.due = now + self.config.debounce_seconds
                return
            self.node, requests = update_node(
                self.kube, self.name, lambda node: self._redecide(node, decisions),
                lambda: labels.timestamp(self.clock()), node=self.node,
                landed=lambda: landed.append(decisions[-1]))
        except KubeError as error:
            # A decision written in part has happened: a recovery's event, say, is not decided
            # again from a node that shows the recovery done. Its faults stay pending regardless.
            self._queue_events(landed)
            self._failed(now, error)
            return
        self.metrics.writes.labels("ok").inc()
        self.backoff.succeeded()
        self.log.info("node written", node=self.name, requests=requests, urgent=decisions[-1].urgent,
                      health=NodeView.of(self.node).health)
        self._commit(decisions[-1], [*landed, decisions[-1]])

    def _decide(self, node: Manifest) -> Decision:
        return decide(NodeView.of(node), self.pending.faults, self.recent, self.config, self.clock(),
                      self.pending.since)

    def _redecide(self, node: Manifest, decisions: list[Decision]) -> NodeUpdate:
        decisions.append(self._decide(node))
        return decisions[-1].update

    def _commit(self, decision: Decision, happened: list[Decision]) -> None:
        """`decision` is on the node: its faults are written; `happened` (it, and any decision
        before it written in part) have their events recorded."""
        done = self.monotonic()
        for read_at in self.pending.read_at:
            self.metrics.detection_latency.observe(done - read_at)
        self.recent = decision.recent
        self.pending = Pending()
        self.metrics.pending.set(0)
        self._queue_events(happened)

    def _queue_events(self, decisions: list[Decision]) -> None:
        """Each event once: a decision made again after a conflict repeats its faults' events."""
        regarding = self.node
        if regarding is None:
            return  # nothing was read, so nothing was decided
        queued = {event.key for event, _ in self.events}
        for decision in decisions:
            for event in decision.events:
                if event.key not in queued:
                    queued.add(event.key)
                    self.events.append((event, regarding))

    def _failed(self, now: float, error: KubeError) -> None:
        self.metrics.writes.labels("error").inc()
        delay = self.backoff.failed(now)
        if not _retryable(error):
            self.node = None  # conflicts, a vanished node, refusals: start from a fresh read
        self.log.warn("node write failed; retrying", node=self.name, retry_in_seconds=round(delay, 2),
                      pending_faults=len(self.pending.faults), error=str(error))

    def _send_events(self, now: float) -> None:
        while self.events:
            event, regarding = self.events[0]
            try:
                record_event(self.kube, regarding, event.type, event.reason, event.note,
                             controller=CONTROLLER, action=event.action, instance=self.name,
                             name=f"{self.name[:200]}.{event.key}")  # names: at most 253
                self.metrics.events.labels(event.reason).inc()
            except KubeError as error:
                if _retryable(error):
                    delay = self.events_backoff.failed(now)
                    self.log.warn("event not recorded; retrying", retry_in_seconds=round(delay, 2),
                                  error=str(error))
                    return
                if not (isinstance(error, RequestFailed) and error.status == 409):  # 409: already there
                    self.log.error("event refused; dropped", reason=event.reason, error=str(error))
            self.events.pop(0)
        self.events_backoff.succeeded()


def shed(faults: list[Fault], limit: int) -> list[int]:
    """Which faults to keep (indexes) when more than `limit` wait, e.g. a flood while the API
    server is away: the oldest that quarantine nothing go first (their events are lost); one
    that asks for a reboot or a replacement is never dropped."""
    excess = len(faults) - limit
    kept = []
    for index, fault in enumerate(faults):
        if excess > 0 and not fault.action.quarantines:
            excess -= 1
            continue
        kept.append(index)
    return kept


def _retryable(error: KubeError) -> bool:
    """The API server is away or overloaded; anything else will not pass by waiting."""
    return isinstance(error, ClusterUnreachable) or (isinstance(error, RequestFailed) and error.temporary)
