"""Classify log lines against the rules: the kernel-log path of the agent and of `health classify`."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.rules import Match, RuleSet


@dataclass(frozen=True)
class Classification:
    line_number: int  # from 1
    text: str  # the message (kmsg header or syslog prefix removed)
    rule: str | None
    fault_type: str | None
    reason: str | None
    action: Action  # none when no rule matched


def classify_lines(
    ruleset: RuleSet, lines: Iterable[str | bytes], *, source: str = "kmsg", matched_only: bool = False,
) -> Iterator[Classification]:
    """One Classification per line (only the matched ones with `matched_only`).

    Lines that pass no rule's prefilter are never decoded nor parsed: on a real log that is
    nearly all of them, which is what makes a million lines cheap.
    """
    may_match = ruleset.may_match
    for number, raw in enumerate(lines, start=1):
        match = None
        if may_match(source, raw):
            record = parse_record(raw)
            if record is not None:
                match = ruleset.match_unfiltered(source, record.message)
        if match is not None:
            yield Classification(number, match.message, match.rule, match.fault_type, match.reason,
                                 match.action)
        elif not matched_only:
            yield _unmatched(number, raw)


def _unmatched(number: int, raw: str | bytes) -> Classification:
    record = parse_record(raw)
    text = record.message if record else (raw.decode("utf-8", errors="replace") if isinstance(raw, bytes)
                                          else raw).strip()
    return Classification(number, text, None, None, None, Action.NONE)


def to_fault(match: Match, now: datetime) -> Fault:
    """The Fault a match records, stamped with `now` in RFC 3339 UTC."""
    stamp = now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Fault(stamp, match.fault_type, match.reason, match.message, match.action, match.rule_path,
                 match.source)
