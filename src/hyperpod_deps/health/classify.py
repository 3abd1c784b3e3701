"""Classify log lines against the rules: the kernel-log path of the agent and of `health classify`.

Both go through `Matcher`: parse, match, and decide by the record's origin and the source's
trust whether the match may act, so the command shows what the agent would do.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.health.kernel_log import KernelLog, Origin, is_continuation, parse_record
from hyperpod_deps.health.rules import Match, RuleSet
from hyperpod_deps.health.trust import Trust, may_act, untrusted_note

# A journal JSON entry whose MESSAGE is an array of byte values holds no rule's keyword as
# text, so the prefilter on the raw line cannot rule it out.
_BYTE_MESSAGE = re.compile(r'"MESSAGE"\s*:\s*\[')
_BYTE_MESSAGE_BYTES = re.compile(rb'"MESSAGE"\s*:\s*\[')


@dataclass(frozen=True)
class Verdict:
    record: KernelLog
    match: Match | None
    trusted: bool  # the match may drive its action; False: only counted and logged


class Matcher:
    """Records of one stream, in order: an indented continuation line takes the origin of the
    record it continues, so keep one Matcher per stream and per read (it is not thread-safe)."""

    def __init__(self, rules: RuleSet, trust: Trust, source: str = "kmsg") -> None:
        self.rules, self.trust, self.source = rules, trust, source
        self._header: str | bytes | None = None  # the last line that began a record

    def line(self, raw: str | bytes) -> Verdict | None:
        """None when no rule can match the line (most lines: never decoded nor parsed)."""
        continued = is_continuation(raw)
        if not continued:
            self._header = raw
        if not (self.rules.may_match(self.source, raw) or _holds_byte_message(raw)):
            return None
        record = parse_record(raw)
        if record is None:
            return None
        if continued:
            header = parse_record(self._header) if self._header is not None else None
            record = replace(record, origin=header.origin if header is not None else Origin.UNKNOWN)
        return self.record(record)

    def record(self, record: KernelLog) -> Verdict:
        match = self.rules.match(self.source, record.message)
        return Verdict(record, match, match is not None and may_act(record.origin, self.trust))


def _holds_byte_message(raw: str | bytes) -> bool:
    if isinstance(raw, bytes):
        return raw[:1] in (b"{", b"\x1e") and _BYTE_MESSAGE_BYTES.search(raw) is not None
    return raw[:1] in ("{", "\x1e") and _BYTE_MESSAGE.search(raw) is not None


@dataclass(frozen=True)
class Classification:
    line_number: int  # from 1
    text: str  # the message (kmsg header or syslog prefix removed)
    rule: str | None
    fault_type: str | None
    reason: str | None
    action: Action  # none when no rule matched, or when the record's origin is not trusted
    origin: Origin | None = None  # None for a line with no record (blank, kmsg dictionary)
    note: str | None = None  # why a match was not acted on


def classify_lines(
    ruleset: RuleSet, lines: Iterable[str | bytes], *, source: str = "kmsg", matched_only: bool = False,
    trust: Trust = Trust.ANALYSIS,
) -> Iterator[Classification]:
    """One Classification per line (only the matched ones with `matched_only`).

    Lines that pass no rule's prefilter are never decoded nor parsed: on a real log that is
    nearly all of them, which is what makes a million lines cheap.
    """
    matcher = Matcher(ruleset, trust, source)
    for number, raw in enumerate(lines, start=1):
        verdict = matcher.line(raw)
        match = verdict.match if verdict is not None else None
        if verdict is not None and match is not None:
            action = match.action if verdict.trusted else Action.NONE
            note = None if verdict.trusted else untrusted_note(verdict.record.origin)
            yield Classification(number, match.message, match.rule, match.fault_type, match.reason, action,
                                 verdict.record.origin, note)
        elif not matched_only:
            yield _unmatched(number, raw)


def _unmatched(number: int, raw: str | bytes) -> Classification:
    record = parse_record(raw)
    if record is None:
        text = (raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw).strip()
        return Classification(number, text, None, None, None, Action.NONE)
    return Classification(number, record.message, None, None, None, Action.NONE, record.origin)


def to_fault(match: Match, now: datetime) -> Fault:
    """The Fault a match records, stamped with `now` in RFC 3339 UTC."""
    stamp = now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Fault(stamp, match.fault_type, match.reason, match.message, match.action, match.rule_path,
                 match.source)
