"""Garbage, truncated and binary input never raises in the parsers and the classifier."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperpod_deps.health.classify import Matcher, classify_lines
from hyperpod_deps.health.efa import parse_counter
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.neuron import parse_monitor_report
from hyperpod_deps.health.rules import RuleSet
from hyperpod_deps.health.trust import Trust

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


# Lines that look like the formats the parser knows, with garbage where the fields go.
headers = st.sampled_from(["", "3,1,2,-;", "11,1,2,-;", "May 18 19:02:39 ", "May 18 19:02:39 h kernel: ",
                           "2021-06-01T08:13:11.077924-04:00 ", "[ 1.5] ", "[ 1.5] h kernel: ", "    ",
                           "[Fri Aug 30 11:43:14 2024] ", '{"MESSAGE":',
                           '\x1e{"_TRANSPORT":"kernel","MESSAGE":'])
shaped = st.builds(lambda head, body: head + body, headers,
                   st.text(max_size=200) | st.builds(json.dumps, json_values))


@given(shaped)
def test_shaped_garbage_never_raises(raw: str) -> None:
    record = parse_record(raw)
    assert record is None or isinstance(record.message, str)
    parse_record(raw.encode("utf-8", "surrogatepass"))


@settings(max_examples=50)
@given(st.lists(shaped | st.binary(max_size=200), max_size=20), st.sampled_from(list(Trust)))
def test_the_matcher_never_raises(lines: list[str | bytes], trust: Trust) -> None:
    matcher = Matcher(RULES, trust)
    for line in lines:
        verdict = matcher.line(line)
        assert verdict is None or verdict.trusted in (True, False)


@given(json_values)
def test_any_journal_json_never_raises(value: object) -> None:
    parse_record(json.dumps({"MESSAGE": value, "_TRANSPORT": value, "SYSLOG_FACILITY": value,
                             "PRIORITY": value, "__MONOTONIC_TIMESTAMP": value}))


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
