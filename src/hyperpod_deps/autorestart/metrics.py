"""Prometheus metrics and the health endpoint, on one HTTP port.

Each controller gets its own registry, so several can run in one process (tests, the demo).
`/healthz` answers 200 while the controller's loop keeps turning, 503 once it has stalled.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hyperpod_deps.core.http_endpoint import Answer, Endpoint
from hyperpod_deps.core.metrics import CONTENT_TYPE, Registry

PREFIX = "hyperpod_deps_auto_restart"
# Fault to pods brought down: sub-second when the controller keeps up, minutes when it does not.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = Registry()
        self.restarts = registry.counter(f"{PREFIX}_restarts", "Jobs restarted, by kind and the fault that "
                                         "caused it.", ["kind", "reason"])
        self.latency = registry.histogram(
            f"{PREFIX}_fault_to_restart_seconds",
            "From a fault's start (or first sighting) until the job's pods were deleted.",
            LATENCY_BUCKETS, ["kind"])
        self.exhausted = registry.counter(f"{PREFIX}_budget_exhausted",
                                          "Jobs whose retry budget ran out at a fault.", ["kind"])
        self.not_resumable = registry.counter(f"{PREFIX}_jobs_not_resumable",
                                              "Opted-in jobs reported as not resumable as written.", ["kind"])
        self.paused = registry.counter(
            f"{PREFIX}_restarts_paused",
            "Restarts held back by the blast-radius limit (too many jobs or nodes in the window).", ["limit"])
        self.errors = registry.counter(f"{PREFIX}_errors", "API calls that failed, by operation.",
                                       ["operation"])
        self.leader = registry.gauge(f"{PREFIX}_leader", "1 while this replica holds the leader Lease.")
        self.jobs = registry.gauge(f"{PREFIX}_jobs", "Jobs watched, by kind.", ["kind"])


class Heartbeat:
    """The controller loop beats; the health endpoint checks the beat is recent."""

    def __init__(self, stale_after_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._stale_after, self._clock = stale_after_seconds, clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def healthy(self) -> bool:
        return self._clock() - self._last < self._stale_after


def serve(metrics: Metrics, heartbeat: Heartbeat, address: str, port: int) -> Endpoint:
    """Serve /metrics and /healthz from a thread of their own until `close()`."""

    def healthz() -> Answer:
        ok = heartbeat.healthy()
        return Answer(200 if ok else 503, "text/plain", b"ok\n" if ok else b"stalled\n")

    return Endpoint({"/metrics": lambda: Answer(200, CONTENT_TYPE, metrics.registry.exposition()),
                     "/healthz": healthz}, port, address)
