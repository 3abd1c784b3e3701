"""The held-out corpus of real kernel log lines is well formed and apart from the field corpus.

Its accuracy is reported in docs/health-accuracy.md (hack/gen_health_accuracy_doc.py), not held
to a target here: the lines were gathered without reading the rules, and a target would invite
tuning the rules to them, which would end their use as a measure.
"""
from __future__ import annotations

from pathlib import Path

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.accuracy import CLASSES, load_corpus

DATA = Path(__file__).resolve().parents[2] / "data" / "kernel-logs"
HOLDOUT = load_corpus((DATA / "holdout-corpus.yaml").read_text(encoding="utf-8"))  # checks every entry
FIELD = load_corpus((DATA / "field-corpus.yaml").read_text(encoding="utf-8"))


def test_size_and_mix() -> None:
    assert 60 <= len(HOLDOUT) <= 100
    benign = [entry for entry in HOLDOUT if entry.expect is Action.NONE]
    assert 3 * len(benign) >= len(HOLDOUT), "at least a third of the lines should deserve no action"


def test_every_entry_names_a_source_a_known_class_and_action() -> None:
    for entry in HOLDOUT:
        assert entry.source.startswith("https://"), entry.source
        assert entry.kind in CLASSES
        assert isinstance(entry.expect, Action)
        assert entry.why.strip()
    assert len({entry.line for entry in HOLDOUT}) == len(HOLDOUT), "a line is in the corpus twice"


def test_no_line_shared_with_the_field_corpus() -> None:
    shared = {entry.line for entry in HOLDOUT} & {entry.line for entry in FIELD}
    assert not shared, f"lines also in field-corpus.yaml: {sorted(shared)}"


def test_no_source_shared_with_the_field_corpus() -> None:
    shared = {entry.source for entry in HOLDOUT} & {entry.source for entry in FIELD}
    assert not shared, f"sources also cited by field-corpus.yaml: {sorted(shared)}"
