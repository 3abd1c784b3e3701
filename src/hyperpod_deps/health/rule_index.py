"""Which rules of a source can match a message, found by substring tests instead of trying each
rule's regex in turn.

Each rule is filed under one anchor: the literal run (prefilter.required_literals) its matches
hold that the fewest other rules share, the longest of those. A message is tried only against
the rules whose anchor it contains, in their order. With one rule per NVIDIA code, an Xid line
otherwise ran hundreds of patterns before the right one (a millisecond a line); the anchor of
`xid-79` is `): 79`, which only its own lines hold (and Xid 790-799's, were there any). Rules
without a literal (case-insensitive ones, top-level alternations) are candidates for every
message: correct, only slower.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from hyperpod_deps.health.prefilter import required_literals


class _HasRegex(Protocol):
    @property
    def regex(self) -> re.Pattern[str]: ...


R = TypeVar("R", bound=_HasRegex)


class RuleIndex(Generic[R]):
    def __init__(self, rules: Sequence[R]) -> None:
        literals = [required_literals(rule.regex, trim=False) for rule in rules]
        shared = Counter(literal for runs in literals for literal in set(runs))
        self._always: list[tuple[int, R]] = []
        self._by_anchor: dict[str, list[tuple[int, R]]] = {}
        for order, (rule, runs) in enumerate(zip(rules, literals, strict=True)):
            if not runs:
                self._always.append((order, rule))
                continue
            anchor = min(runs, key=lambda run: (shared[run], -len(run)))
            self._by_anchor.setdefault(anchor, []).append((order, rule))

    def candidates(self, message: str) -> list[R]:
        """The rules that may match `message`, in the order they are to be tried."""
        found = list(self._always)
        for anchor, rules in self._by_anchor.items():
            if anchor in message:
                found.extend(rules)
        found.sort(key=lambda item: item[0])
        return [rule for _, rule in found]
