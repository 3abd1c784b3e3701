"""The agent's Prometheus metrics, in a registry of its own (several agents may share a process
in tests), served over HTTP on the settings' metrics port."""
from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

# Detection latency buckets around the 250 ms target, from a few ms to a slow API server.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.faults = Counter("hyperpod_health_faults", "Faults detected, by fault type and action.",
                              ["type", "action"], registry=self.registry)
        self.evaluations = Counter("hyperpod_health_rule_evaluations",
                                   "Records (or polls) checked against the rules, by source and result: "
                                   "match, nomatch, or untrusted (a match whose writer the source cannot "
                                   "prove to be the kernel: logged, not acted on).",
                                   ["source", "result"], registry=self.registry)
        self.detection_latency = Histogram(
            "hyperpod_health_detection_latency_seconds",
            "From reading a fault's record to the node write that carries it.",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.writes = Counter("hyperpod_health_node_writes", "Node writes, by result (ok, conflict, error).",
                              ["result"], registry=self.registry)
        self.events = Counter("hyperpod_health_events", "Kubernetes Events recorded, by reason.",
                              ["reason"], registry=self.registry)
        self.kmsg_overruns = Counter("hyperpod_health_kmsg_overruns",
                                     "Times /dev/kmsg records were overwritten before they were read.",
                                     registry=self.registry)
        self.pending = Gauge("hyperpod_health_pending_faults", "Faults detected and not yet written.",
                             registry=self.registry)

    def serve(self, port: int) -> MetricsServer:
        return MetricsServer(make_wsgi_app(self.registry), port)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A scrape every few seconds would drown the agent's own log (stdout is JSON lines)."""


class MetricsServer:
    """/metrics on every address, from a thread that sleeps until a scrape arrives.

    prometheus-client's own server (socketserver's serve_forever) wakes twice a second to look
    for a stop, which was a quarter of the idle agent's CPU. This one blocks in accept until a
    request comes, and `close()` wakes it by shutting the listening socket down."""

    def __init__(self, app: Any, port: int) -> None:
        self._server = make_server("", port, app, handler_class=_QuietHandler)
        self._server.timeout = None  # handle_request() waits for a request, however long
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="metrics", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.socket.shutdown(socket.SHUT_RDWR)  # wakes the accept; it fails, the loop ends
        self._thread.join(5)
        self._server.server_close()

    def _serve(self) -> None:
        while not self._closed.is_set():
            self._server.handle_request()  # a failed accept returns quietly
