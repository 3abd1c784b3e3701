"""Garbage, truncated and binary input never raises in the parsers and the classifier."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperpod_deps.health.classify import classify_lines
from hyperpod_deps.health.efa import parse_counter
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.neuron import parse_monitor_report
from hyperpod_deps.health.rules import RuleSet

RULES = RuleSet.load()
REAL = "3,1234,5678901234,-;NVRM: Xid (PCI:0000:b9:00): 79, pid=2345, name=python3, GPU fell off the bus."
NEURON = json.dumps({"system_data": {"neuron_hw_counters": {"neuron_devices": [
    {"neuron_device_index": 0, "mem_ecc_uncorrected": 1}]}}})
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                           lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_parse_record_never_raises(raw: bytes | str) -> None:
    record = parse_record(raw)
    assert record is None or isinstance(record.message, str)


@given(st.integers(min_value=0, max_value=len(REAL)))
def test_a_truncated_record_never_raises(cut: int) -> None:
    parse_record(REAL[:cut])
    parse_record(REAL.encode()[:cut])


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=200) | st.text(max_size=200), max_size=20))
def test_classify_never_raises_and_yields_one_per_line(lines: list[bytes | str]) -> None:
    assert len(list(classify_lines(RULES, lines))) == len(lines)


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_neuron_parser_never_raises_on_bytes(raw: bytes | str) -> None:
    parse_monitor_report(raw)


@given(json_values)
def test_neuron_parser_never_raises_on_any_json(value: object) -> None:
    parse_monitor_report(json.dumps(value))


@given(st.integers(min_value=0, max_value=len(NEURON)))
def test_neuron_parser_on_a_truncated_report(cut: int) -> None:
    report = parse_monitor_report(NEURON[:cut])
    assert report is None or cut == len(NEURON)


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_efa_counter_parser_never_raises(raw: bytes | str) -> None:
    value = parse_counter(raw)
    assert value is None or value >= 0
