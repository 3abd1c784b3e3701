"""A cheap test that a line may match any rule of a source, before any rule's regex runs.

Each rule's longest literal run (text the regex cannot match without) becomes a keyword; a line
holding none of the keywords cannot match, so most lines cost one substring scan per keyword.
Rules without a usable literal (case-insensitive, alternations at the top level, very short
literals) are tried on every line: they are correct, only slower.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

try:  # The stdlib's own regex parser: private, so a newer Python without it only loses speed.
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    sre_parse = None

_MIN_KEYWORD = 3


def required_literal(pattern: re.Pattern[str]) -> str | None:
    """The longest run of plain characters every match of `pattern` contains, or None."""
    if sre_parse is None or pattern.flags & re.IGNORECASE:
        return None
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # pragma: no cover - the pattern compiled, so this is a parser change
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    best, run = "", ""
    for op, value in parsed:
        if op is sre_parse.LITERAL:
            run += chr(value)
            continue
        best, run = max(best, run, key=len), ""
    best = max(best, run, key=len)
    return best if len(best) >= _MIN_KEYWORD else None


class Prefilter:
    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        literals = [required_literal(pattern) for pattern in patterns]
        self.always = None in literals
        found = {literal for literal in literals if literal is not None}
        # A keyword that holds a shorter keyword adds nothing: the shorter one already passes.
        self.keywords = sorted(k for k in found if not any(o != k and o in k for o in found))
        self._any = re.compile("|".join(map(re.escape, self.keywords))) if self.keywords else None

    def may_match(self, line: str) -> bool:
        if self.always:
            return True
        return self._any is not None and self._any.search(line) is not None
