"""How well the kernel-log rules do on a corpus of real lines, each with the action it deserves.

Pure: the corpus comes in as text or entries, the rules as a RuleSet; nothing is read here. Every
line goes through `classify_lines`, the code path of `hyperpod-deps health classify`, so what
this measures is what the agent and the CLI do, parser included.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.classify import classify_lines
from hyperpod_deps.health.rules import RuleSet

# The kinds of line a corpus may name. Closed, so that a typo makes its own class instead of
# silently splitting a table row in two.
CLASSES = frozenset({
    "gpu-xid-fatal", "gpu-xid-hw", "gpu-xid-app", "gpu-xid-other", "gpu-fallen-off-bus", "gpu-init",
    "gpu-reset-required", "nvswitch-sxid", "nvlink", "host-memory-mce", "pcie-aer", "pcie-aer-fatal",
    "efa", "neuron", "disk-io", "nvme-timeout", "filesystem-readonly", "nfs", "lustre", "kernel-oops",
    "kernel-deadlock", "rcu-stall", "hung-task", "oom", "app-crash", "network", "resource-limit",
    "benign", "spoofed-userspace",
})
_KEYS = {"line", "source", "expect", "class", "clearCut", "why"}


class CorpusError(ValueError):
    """The corpus text is not a list of well-formed entries; the message names the entry."""


@dataclass(frozen=True)
class CorpusEntry:
    line: str
    source: str
    expect: Action
    kind: str  # the corpus's `class`
    clear_cut: bool
    why: str


@dataclass(frozen=True)
class Outcome:
    entry: CorpusEntry
    got: Action
    rule: str | None

    @property
    def right(self) -> bool:
        return self.got == self.entry.expect

    @property
    def false_quarantine(self) -> bool:
        """Quarantined harder than the line deserves: a healthy node taken out, or replaced
        where a reboot would do."""
        return self.got.quarantines and self.got.rank < self.entry.expect.rank

    @property
    def missed_fatal(self) -> bool:
        """A line that deserves a quarantine got a weaker action than it deserves."""
        return self.entry.expect.quarantines and self.got.rank > self.entry.expect.rank


@dataclass
class Tally:
    lines: int = 0
    right: int = 0
    false_quarantines: int = 0
    missed_fatal: int = 0
    clear_cut: int = 0
    clear_cut_right: int = 0

    @property
    def wrong(self) -> int:
        return self.lines - self.right

    @property
    def clear_cut_accuracy(self) -> float | None:
        """Right over clear-cut lines; None when there are none (no ratio to speak of)."""
        return self.clear_cut_right / self.clear_cut if self.clear_cut else None

    def add(self, outcome: Outcome) -> None:
        self.lines += 1
        self.right += outcome.right
        self.false_quarantines += outcome.false_quarantine
        self.missed_fatal += outcome.missed_fatal
        if outcome.entry.clear_cut:
            self.clear_cut += 1
            self.clear_cut_right += outcome.right


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]
    total: Tally
    by_class: dict[str, Tally] = field(default_factory=dict)  # sorted by class name

    @property
    def wrong(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.right]


def load_corpus(text: str) -> list[CorpusEntry]:
    """The entries of a corpus document (a YAML list); CorpusError on the first bad one."""
    try:
        loaded: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CorpusError(f"not valid YAML: {error}") from error
    if not isinstance(loaded, list):
        raise CorpusError("the corpus must be a YAML list of entries")
    return [_entry(index, raw) for index, raw in enumerate(loaded)]


def _entry(index: int, raw: Any) -> CorpusEntry:
    where = f"entry {index}"
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: not a mapping")
    if set(raw) != _KEYS:
        raise CorpusError(f"{where}: keys must be {sorted(_KEYS)}, not {sorted(raw)}")
    line, source, why = raw["line"], raw["source"], raw["why"]
    for key, value in (("line", line), ("source", source), ("why", why)):
        if not isinstance(value, str) or not value.strip():
            raise CorpusError(f"{where}: {key} must be a non-empty string")
    # One entry is one line of a log: a line break would make classify_lines see two.
    if "\n" in line or "\r" in line:
        raise CorpusError(f"{where}: line must be a single line")
    try:
        expect = Action(raw["expect"])
    except ValueError as error:
        raise CorpusError(f"{where}: expect must be one of {[a.value for a in Action]}") from error
    if raw["class"] not in CLASSES:
        raise CorpusError(f"{where}: unknown class {raw['class']!r}")
    if not isinstance(raw["clearCut"], bool):
        raise CorpusError(f"{where}: clearCut must be true or false")
    return CorpusEntry(line, source, expect, raw["class"], raw["clearCut"], why)


def evaluate(rules: RuleSet, entries: Sequence[CorpusEntry]) -> Report:
    """Classify every entry's line as one kernel log, and count."""
    found = classify_lines(rules, [entry.line for entry in entries])
    outcomes = tuple(Outcome(entry, c.action, c.rule) for entry, c in zip(entries, found, strict=True))
    return Report(outcomes, _tally(outcomes), {kind: _tally(o for o in outcomes if o.entry.kind == kind)
                                               for kind in sorted({e.kind for e in entries})})


def _tally(outcomes: Iterable[Outcome]) -> Tally:
    tally = Tally()
    for outcome in outcomes:
        tally.add(outcome)
    return tally
