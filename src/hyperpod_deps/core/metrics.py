"""Prometheus metrics of one component: counters, gauges and histograms, by label, in a registry
of its own, written in the text exposition format (version 0.0.4).

The project's own rather than prometheus-client (decision 17): the node agent runs on every
node, and the library with the HTTP server it brings cost it 3 MiB of resident memory for seven
metrics. What a scrape sees is the same series prometheus-client writes (`_total` for counters,
`_bucket`/`_count`/`_sum` for histograms, labels in name order), less its optional `_created`
series; tests/unit/core/test_metrics.py reads our output with prometheus-client's own parser.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
F = TypeVar("F", bound="_Family")
Sample = tuple[str, dict[str, str], float]  # exposed name, labels, value


class Registry:
    """The metrics a component defines, in definition order; safe to update from any thread."""

    def __init__(self) -> None:
        self._families: list[_Family] = []
        self._lock = threading.Lock()

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        """A count that only goes up; exposed as `<name>_total`."""
        return self._add(Counter(name, help, tuple(labels), self._lock))

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Gauge:
        return self._add(Gauge(name, help, tuple(labels), self._lock))

    def histogram(self, name: str, help: str, buckets: Sequence[float],
                  labels: Sequence[str] = ()) -> Histogram:
        bounds = tuple(sorted(float(bound) for bound in buckets if not math.isinf(bound)))
        return self._add(Histogram(name, help, tuple(labels), self._lock, bounds=bounds))

    def exposition(self) -> bytes:
        with self._lock:
            return "".join(family.text() for family in self._families).encode()

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """One sample's value by its exposed name (`..._total`, `..._count`), None if absent."""
        with self._lock:
            for family in self._families:
                for sample_name, sample_labels, value in family.samples():
                    if sample_name == name and sample_labels == (labels or {}):
                        return value
        return None

    def _add(self, family: F) -> F:
        if any(known.name == family.name for known in self._families):
            raise ValueError(f"metric {family.name} is defined twice")
        self._families.append(family)
        return family


@dataclass
class _Family:
    name: str
    help: str
    label_names: tuple[str, ...]
    lock: threading.Lock
    kind = "untyped"
    values: dict[tuple[str, ...], list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.label_names:
            self.values[()] = self._zero()  # an unlabelled metric is shown from the start

    def labels(self, *values: str) -> _Child:
        """The series with these label values, in the order of the family's label names."""
        return _Child(self, tuple(values))

    def _zero(self) -> list[float]:
        return [0.0]

    def _slot(self, label_values: tuple[str, ...]) -> list[float]:
        if len(label_values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {label_values}")
        slot = self.values.get(label_values)
        if slot is None:
            slot = self.values[label_values] = self._zero()
        return slot

    @property
    def exposed(self) -> str:
        return self.name + ("_total" if self.kind == "counter" else "")

    def text(self) -> str:
        lines = [f"# HELP {self.exposed} {_escape_help(self.help)}", f"# TYPE {self.exposed} {self.kind}"]
        lines.extend(f"{name}{_labels(labels)} {_number(value)}" for name, labels, value in self.samples())
        return "\n".join(lines) + "\n"

    def samples(self) -> list[Sample]:
        return [sample for label_values, slot in self.values.items()
                for sample in self._samples(dict(zip(self.label_names, label_values, strict=True)), slot)]

    def _samples(self, labels: dict[str, str], slot: list[float]) -> list[Sample]:
        return [(self.exposed, labels, slot[0])]


class _Child:
    """One series of a family: the family with its label values."""

    def __init__(self, family: _Family, label_values: tuple[str, ...]) -> None:
        self._family, self._values = family, label_values

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(f"{self._family.name}: a counter cannot go down ({amount})")
        with self._family.lock:
            self._family._slot(self._values)[0] += amount

    def set(self, value: float) -> None:
        with self._family.lock:
            self._family._slot(self._values)[0] = float(value)

    def observe(self, value: float) -> None:
        family = self._family
        assert isinstance(family, Histogram)
        with family.lock:
            slot = family._slot(self._values)
            for index, bound in enumerate(family.bounds):
                if value <= bound:
                    slot[index] += 1
            slot[-2] += 1  # count, also the +Inf bucket
            slot[-1] += value  # sum


class Counter(_Family):
    kind = "counter"

    def inc(self, amount: float = 1.0) -> None:
        self.labels().inc(amount)


class Gauge(_Family):
    kind = "gauge"

    def set(self, value: float) -> None:
        self.labels().set(value)


@dataclass
class Histogram(_Family):
    bounds: tuple[float, ...] = ()
    kind = "histogram"

    def _zero(self) -> list[float]:
        return [0.0] * (len(self.bounds) + 2)  # each bucket, then count and sum

    def observe(self, value: float) -> None:
        self.labels().observe(value)

    def _samples(self, labels: dict[str, str], slot: list[float]) -> list[Sample]:
        buckets = [(_number(bound), slot[index]) for index, bound in enumerate(self.bounds)]
        buckets.append(("+Inf", slot[-2]))
        samples: list[Sample] = [(f"{self.name}_bucket", {**labels, "le": le}, count)
                                 for le, count in buckets]
        samples.append((f"{self.name}_count", labels, slot[-2]))
        samples.append((f"{self.name}_sum", labels, slot[-1]))
        return samples


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    pairs = (f'{name}="{_escape_value(labels[name])}"' for name in sorted(labels))
    return "{" + ",".join(pairs) + "}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return _escape_help(text).replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
