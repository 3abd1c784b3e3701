"""The EFA monitor: error counters under sysfs that rise between two polls.

`read_counters` only reads files; `counter_findings`, `rising` and `parse_counter` are pure.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from hyperpod_deps.core.health import Fault
from hyperpod_deps.health.classify import to_fault
from hyperpod_deps.health.rules import Match, RuleSet
from hyperpod_deps.health.thresholds import EfaThresholds

Counters = Mapping[str, int]  # "rdmap0s29/1/rx_drops" (port) or "rdmap0s29/cmds_err" (device) -> value


def parse_counter(raw: str | bytes) -> int | None:
    """A sysfs counter file's content; None when it is not a non-negative integer. Never raises."""
    text = raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None


def read_counters(root: Path) -> dict[str, int]:
    """Every EFA hw counter under `root`/sys/class/infiniband; unreadable files are skipped."""
    base = root / "sys/class/infiniband"
    found: dict[str, int] = {}
    for pattern in ("*/hw_counters/*", "*/ports/*/hw_counters/*"):
        for path in sorted(base.glob(pattern)):
            try:
                value = parse_counter(path.read_bytes()[:64])
            except OSError:
                continue
            if value is not None:
                key = str(path.relative_to(base)).replace("/hw_counters/", "/").replace("/ports/", "/")
                found[key] = value
    return found


def counter_findings(previous: Counters, current: Counters, thresholds: EfaThresholds) -> list[str]:
    """A finding per counter that rose by more than its threshold; unlisted counters are ignored.

    A counter that went down was reset (driver reload): it starts a new baseline, no finding.
    """
    found = []
    for key, value in sorted(current.items()):
        name = key.rpartition("/")[2]
        limit = thresholds.counters.get(name)
        before = previous.get(key)
        if limit is None or before is None or value < before:
            continue
        if value - before > limit.rise:
            found.append(f"EFA {key.rpartition('/')[0]}: {name} rose by {value - before}")
    return found


def rising(previous: Counters, current: Counters, rules: RuleSet) -> list[Match]:
    """The matches of the counters that rose past efa.yaml's thresholds (the rule set holds both)."""
    findings = counter_findings(previous, current, rules.efa_thresholds)
    matches = (rules.match("efa", text) for text in findings)
    return [match for match in matches if match is not None]


class EfaMonitor:
    def __init__(self, rules: RuleSet, root: Path = Path("/")) -> None:
        self._rules, self._root = rules, root
        self._previous: dict[str, int] | None = None

    def poll(self, now: datetime) -> list[Fault]:
        current = read_counters(self._root)
        previous, self._previous = self._previous, current
        if previous is None:  # the first poll is the baseline
            return []
        return [to_fault(match, now) for match in rising(previous, current, self._rules)]
