"""A cheap test that a line may match any rule of a source, before any rule's regex runs.

Each rule contributes one literal run (text the regex cannot match without) as a keyword; a line
holding none of the keywords cannot match, so most lines cost one substring scan per keyword.
Rules without a usable literal (case-insensitive, alternations at the top level, very short
literals) are tried on every line: they are correct, only slower.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

try:  # The stdlib's own regex parser: private, so a newer Python without it only loses speed.
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    sre_parse = None

_MIN_KEYWORD = 3
_PUNCTUATION = " \t:;,.()[]{}'\"=-_/"
_SELECTIVE = 6  # a shared keyword shorter than this passes too many ordinary lines


def required_literals(pattern: re.Pattern[str]) -> list[str]:
    """Runs of plain characters (at least 3) that every match of `pattern` contains."""
    if sre_parse is None or pattern.flags & re.IGNORECASE:
        return []
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # pragma: no cover - the pattern compiled, so this is a parser change
        return []
    if parsed.state.flags & re.IGNORECASE:
        return []
    runs, run = [], ""
    for op, value in parsed:
        if op is sre_parse.LITERAL:
            run += chr(value)
            continue
        runs.append(run)
        run = ""
    runs.append(run)
    # Leading spaces and punctuation (": Killed process") are frequent characters where a scan
    # for the keyword would start often; the rest of the run is required just the same.
    trimmed = (run.lstrip(_PUNCTUATION) for run in runs)
    return [run for run in trimmed if len(run) >= _MIN_KEYWORD]


def _keywords(literals: list[list[str]]) -> list[str]:
    """One keyword per rule: a literal other rules share (fewer keywords to scan for) when it is
    long enough to be selective, else the rule's longest literal."""
    shared = Counter(literal for runs in literals for literal in set(runs))

    def score(run: str) -> tuple[bool, int]:
        return shared[run] > 1 and len(run) >= _SELECTIVE, len(run)

    chosen = {max(runs, key=score) for runs in literals if runs}
    # A keyword that holds a shorter keyword adds nothing: the shorter one already passes.
    return sorted(k for k in chosen if not any(o != k and o in k for o in chosen))


class Prefilter:
    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        literals = [required_literals(pattern) for pattern in patterns]
        self.always = any(not runs for runs in literals)
        self.keywords = _keywords(literals)
        self._any = re.compile("|".join(map(re.escape, self.keywords))) if self.keywords else None
        # The same keywords as bytes, so raw log lines need no decoding until one passes (a
        # keyword found in the decoded text is found in the bytes: replacement never adds text).
        encoded = [re.escape(k.encode()) for k in self.keywords]
        self._any_bytes = re.compile(b"|".join(encoded)) if encoded else None

    def may_match(self, line: str | bytes) -> bool:
        if self.always:
            return True
        if isinstance(line, bytes):
            return self._any_bytes is not None and self._any_bytes.search(line) is not None
        return self._any is not None and self._any.search(line) is not None
