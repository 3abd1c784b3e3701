"""Prometheus metrics and the health endpoint, on one HTTP port.

Each controller gets its own registry, so several can run in one process (tests, the demo).
`/healthz` answers 200 while the controller's loop keeps turning, 503 once it has stalled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

PREFIX = "hyperpod_deps_auto_restart"
# Fault to pods brought down: sub-second when the controller keeps up, minutes when it does not.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.restarts = Counter(
            f"{PREFIX}_restarts",
            "Jobs restarted, by kind and the fault that caused it.",
            ["kind", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_fault_to_restart_seconds",
            "From a fault's start (or first sighting) until the job's pods were deleted.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.exhausted = Counter(
            f"{PREFIX}_budget_exhausted",
            "Jobs whose retry budget ran out at a fault.",
            ["kind"],
            registry=self.registry,
        )
        self.not_resumable = Counter(
            f"{PREFIX}_jobs_not_resumable",
            "Opted-in jobs reported as not resumable as written.",
            ["kind"],
            registry=self.registry,
        )
        self.paused = Counter(
            f"{PREFIX}_restarts_paused",
            "Restarts held back by the blast-radius limit (too many jobs or nodes in the window).",
            ["limit"],
            registry=self.registry,
        )
        self.errors = Counter(
            f"{PREFIX}_errors", "API calls that failed, by operation.", ["operation"], registry=self.registry
        )
        self.leader = Gauge(
            f"{PREFIX}_leader", "1 while this replica holds the leader Lease.", registry=self.registry
        )
        self.jobs = Gauge(f"{PREFIX}_jobs", "Jobs watched, by kind.", ["kind"], registry=self.registry)


class Heartbeat:
    """The controller loop beats; the health endpoint checks the beat is recent."""

    def __init__(self, stale_after_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._stale_after, self._clock = stale_after_seconds, clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def healthy(self) -> bool:
        return self._clock() - self._last < self._stale_after


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and probes every few seconds would drown the controller's own log."""


def serve(metrics: Metrics, heartbeat: Heartbeat, address: str, port: int) -> WSGIServer:
    """Start serving /metrics and /healthz in a daemon thread; `shutdown()` the server to stop."""
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            ok = heartbeat.healthy()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ok\n" if ok else b"stalled\n"]
        result: Iterable[bytes] = metrics_app(environ, start_response)
        return result

    server = make_server(address, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
