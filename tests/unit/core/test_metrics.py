"""The metrics registry writes what Prometheus reads: prometheus-client's own parser (the
reference reader) gets back every series, label and value, including labels that need escaping."""
from __future__ import annotations

import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hyperpod_deps.core.metrics import Registry


def parsed(registry: Registry) -> dict[str, tuple[str, list[tuple[str, dict[str, str], float]]]]:
    families = text_string_to_metric_families(registry.exposition().decode())
    return {family.name: (family.type, [(s.name, s.labels, s.value) for s in family.samples])
            for family in families}


def test_counters_gauges_and_histograms_read_back_as_written() -> None:
    registry = Registry()
    faults = registry.counter("faults", "Faults, by type.", ["type", "action"])
    registry.counter("overruns", "Overruns.")
    pending = registry.gauge("pending", "Pending.")
    latency = registry.histogram("latency_seconds", "Latency.", [0.1, 1, float("inf")], ["kind"])
    faults.labels("NvidiaGPUUnhealthy", "replace").inc()
    faults.labels("NvidiaGPUUnhealthy", "replace").inc(2)
    pending.set(3)
    latency.labels("PyTorchJob").observe(0.05)
    latency.labels("PyTorchJob").observe(0.5)
    latency.labels("PyTorchJob").observe(7)
    read = parsed(registry)
    labels = {"type": "NvidiaGPUUnhealthy", "action": "replace"}
    assert read["faults"] == ("counter", [("faults_total", labels, 3.0)])
    assert read["overruns"] == ("counter", [("overruns_total", {}, 0.0)])  # shown before any event
    assert read["pending"] == ("gauge", [("pending", {}, 3.0)])
    kind, samples = read["latency_seconds"]
    assert kind == "histogram"
    labels = {"kind": "PyTorchJob"}
    assert samples == [
        ("latency_seconds_bucket", {**labels, "le": "0.1"}, 1.0),  # buckets count cumulatively
        ("latency_seconds_bucket", {**labels, "le": "1.0"}, 2.0),
        ("latency_seconds_bucket", {**labels, "le": "+Inf"}, 3.0),
        ("latency_seconds_count", labels, 3.0),
        ("latency_seconds_sum", labels, 7.55),
    ]
    assert registry.sample("faults_total", {"type": "NvidiaGPUUnhealthy", "action": "replace"}) == 3.0
    assert registry.sample("faults_total", {"type": "Other", "action": "replace"}) is None


def test_label_values_and_help_are_escaped() -> None:
    registry = Registry()
    counter = registry.counter("odd", 'Help with a \\ backslash\nand a newline "quoted".', ["path"])
    counter.labels('C:\\dir "x"\nnext').inc()
    assert parsed(registry)["odd"][1] == [("odd_total", {"path": 'C:\\dir "x"\nnext'}, 1.0)]
    assert b'odd_total{path="C:\\\\dir \\"x\\"\\nnext"} 1.0' in registry.exposition()


def test_a_wrong_use_fails_at_once() -> None:
    registry = Registry()
    counter = registry.counter("c", "C.", ["kind"])
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels("a", "b").inc()
    with pytest.raises(ValueError, match="cannot go down"):
        counter.labels("a").inc(-1)
    with pytest.raises(ValueError, match="defined twice"):
        registry.gauge("c", "Again.")


def test_increments_from_many_threads_are_all_counted() -> None:
    registry = Registry()
    counter = registry.counter("hits", "Hits.", ["source"])

    def hit() -> None:
        for _ in range(2000):
            counter.labels("kmsg").inc()

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.sample("hits_total", {"source": "kmsg"}) == 16000
