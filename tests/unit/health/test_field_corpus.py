"""The shipped rules against the field corpus of real kernel log lines: the accuracy targets.

What the numbers are today: docs/health-accuracy.md (hack/gen_health_accuracy_doc.py).
"""
from __future__ import annotations

from pathlib import Path

from hyperpod_deps.health.accuracy import Outcome, Report, evaluate, load_corpus
from hyperpod_deps.health.rules import RuleSet

CORPUS = Path(__file__).resolve().parents[2] / "data" / "kernel-logs" / "field-corpus.yaml"
ENTRIES = load_corpus(CORPUS.read_text(encoding="utf-8"))  # checks every class and action
REPORT: Report = evaluate(RuleSet.load(), ENTRIES)


def _show(outcomes: list[Outcome]) -> str:
    return "\n".join(f"  expect {o.entry.expect.value}, got {o.got.value} ({o.rule or 'no rule'}): "
                     f"{o.entry.line}\n    from {o.entry.source}" for o in outcomes)


def test_every_entry_names_its_source_and_reason() -> None:
    assert all(entry.source.strip() and entry.why.strip() for entry in ENTRIES)
    assert len({entry.line for entry in ENTRIES}) == len(ENTRIES), "a line is in the corpus twice"


def test_no_false_quarantine() -> None:
    wrong = [o for o in REPORT.outcomes if o.false_quarantine]
    assert not wrong, f"{len(wrong)} lines quarantine a node harder than they deserve:\n{_show(wrong)}"


def test_no_fatal_fault_missed() -> None:
    missed = [o for o in REPORT.outcomes if o.missed_fatal]
    assert not missed, f"{len(missed)} fatal faults got a weaker action:\n{_show(missed)}"


def test_at_least_95_percent_of_clear_cut_lines_right() -> None:
    total = REPORT.total
    wrong = [o for o in REPORT.wrong if o.entry.clear_cut]
    assert total.clear_cut_right >= 0.95 * total.clear_cut, (
        f"{total.clear_cut_right}/{total.clear_cut} clear-cut lines right:\n{_show(wrong)}")
