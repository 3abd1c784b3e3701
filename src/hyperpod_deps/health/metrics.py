"""The agent's Prometheus metrics, in a registry of its own (several agents may share a process
in tests), served over HTTP on the settings' metrics port."""
from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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

    def serve(self, port: int) -> WSGIServer:
        server, _thread = start_http_server(port, registry=self.registry)
        return server
