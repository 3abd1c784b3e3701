"""The agent's Prometheus metrics, in a registry of its own (several agents may share a process
in tests), served over HTTP on the settings' metrics port."""
from __future__ import annotations

from hyperpod_deps.core.http_endpoint import Answer, Endpoint
from hyperpod_deps.core.metrics import CONTENT_TYPE, Registry

# Detection latency buckets around the 250 ms target, from a few ms to a slow API server.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = Registry()
        self.faults = registry.counter("hyperpod_health_faults", "Faults detected, by fault type and action.",
                                       ["type", "action"])
        self.evaluations = registry.counter(
            "hyperpod_health_rule_evaluations",
            "Records (or polls) checked against the rules, by source and result: match, nomatch, or "
            "untrusted (a match whose writer the source cannot prove to be the kernel: logged, not acted "
            "on).",
            ["source", "result"])
        self.detection_latency = registry.histogram(
            "hyperpod_health_detection_latency_seconds",
            "From reading a fault's record to the node write that carries it.", LATENCY_BUCKETS)
        self.writes = registry.counter("hyperpod_health_node_writes",
                                       "Node writes, by result (ok, conflict, error).", ["result"])
        self.events = registry.counter("hyperpod_health_events", "Kubernetes Events recorded, by reason.",
                                       ["reason"])
        self.kmsg_overruns = registry.counter(
            "hyperpod_health_kmsg_overruns", "Times /dev/kmsg records were overwritten before being read.")
        self.pending = registry.gauge("hyperpod_health_pending_faults",
                                      "Faults detected and not yet written.")

    def serve(self, port: int) -> Endpoint:
        """/metrics on every address of `port` (0: any free one), until `close()`."""
        return Endpoint({"/metrics": lambda: Answer(200, CONTENT_TYPE, self.registry.exposition())}, port)
