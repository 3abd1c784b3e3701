"""The accuracy evaluator's counting, on a hand-made corpus and a two-rule rule set."""
from __future__ import annotations

import pytest

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.accuracy import CorpusError, evaluate, load_corpus
from hyperpod_deps.health.rules import RuleSet, RuleSource

# Own rules, so that the counts do not move when the shipped rules change.
RULES = RuleSet([RuleSource("test.yaml", """
source: kmsg
rules:
  - id: boom
    description: Replaces on BOOM.
    match: 'BOOM'
    faultType: T
    reason: R
    action: replace
  - id: slow
    description: Warns on SLOW.
    match: 'SLOW'
    faultType: T
    reason: R
    action: warning
""")])


def _entry(line: str, expect: str, kind: str, clear_cut: bool = True) -> str:
    return (f"- line: {line!r}\n  source: https://example.org/{kind}\n  expect: {expect}\n"
            f"  class: {kind}\n  clearCut: {str(clear_cut).lower()}\n  why: a reason\n")


CORPUS = "".join([
    _entry("3,1,1,-;BOOM", "replace", "gpu-xid-fatal"),  # right
    _entry("3,2,2,-;BOOM", "none", "benign"),  # false quarantine
    _entry("3,3,3,-;BOOM", "reboot", "gpu-xid-hw"),  # false quarantine: replace where reboot does
    _entry("3,4,4,-;SLOW", "reboot", "gpu-xid-hw", clear_cut=False),  # missed fatal, not clear-cut
    _entry("3,5,5,-;quiet", "replace", "gpu-xid-fatal"),  # missed fatal
    _entry("3,6,6,-;quiet", "none", "benign"),  # right
    _entry("3,7,7,-;SLOW", "event", "benign", clear_cut=False),  # wrong, neither kind of miss
])


def test_counts_per_class_and_in_total() -> None:
    report = evaluate(RULES, load_corpus(CORPUS))
    total = report.total
    assert (total.lines, total.right, total.wrong) == (7, 2, 5)
    assert (total.false_quarantines, total.missed_fatal) == (2, 2)
    assert (total.clear_cut, total.clear_cut_right) == (5, 2)
    assert total.clear_cut_accuracy == pytest.approx(0.4)
    assert list(report.by_class) == ["benign", "gpu-xid-fatal", "gpu-xid-hw"]
    benign = report.by_class["benign"]
    assert (benign.lines, benign.right, benign.false_quarantines, benign.missed_fatal) == (3, 1, 1, 0)
    hardware = report.by_class["gpu-xid-hw"]
    assert (hardware.false_quarantines, hardware.missed_fatal, hardware.clear_cut) == (1, 1, 1)
    assert report.by_class["gpu-xid-fatal"].clear_cut_accuracy == pytest.approx(0.5)


def test_every_wrong_line_is_listed_with_what_it_got() -> None:
    report = evaluate(RULES, load_corpus(CORPUS))
    assert [(o.entry.line, o.got, o.rule) for o in report.wrong] == [
        ("3,2,2,-;BOOM", Action.REPLACE, "boom"),
        ("3,3,3,-;BOOM", Action.REPLACE, "boom"),
        ("3,4,4,-;SLOW", Action.WARNING, "slow"),
        ("3,5,5,-;quiet", Action.NONE, None),
        ("3,7,7,-;SLOW", Action.WARNING, "slow"),
    ]


def test_lines_go_through_the_parser_as_one_log() -> None:
    # A kmsg continuation line is no record: it classifies as none, like in `health classify`.
    report = evaluate(RULES, load_corpus(_entry(" SUBSYSTEM=BOOM", "none", "benign")))
    assert report.total.right == 1


def test_no_clear_cut_line_gives_no_accuracy() -> None:
    report = evaluate(RULES, load_corpus(_entry("x", "none", "benign", clear_cut=False)))
    assert report.total.clear_cut_accuracy is None


@pytest.mark.parametrize(("text", "message"), [
    ("line: x", "a YAML list"),
    ("- [x]", "not a mapping"),
    (_entry("x", "none", "benign").replace("  why: a reason\n", ""), "keys must be"),
    (_entry("x", "quarantine", "benign"), "expect must be one of"),
    (_entry("x", "none", "bengin"), "unknown class 'bengin'"),
    (_entry("x", "none", "benign").replace("https://example.org/benign", "''"), "source must be"),
    (_entry("a\\nb", "none", "benign").replace("'a\\\\nb'", '"a\\nb"'), "single line"),
    (_entry("x", "none", "benign").replace("clearCut: true", "clearCut: yes please"), "clearCut"),
])
def test_a_malformed_corpus_names_the_entry(text: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        load_corpus(text)
