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
from typing import Any

try:  # The stdlib's own regex parser: private, so a newer Python without it only loses speed.
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    sre_parse = None

_MIN_KEYWORD = 3
_PUNCTUATION = " \t:;,.()[]{}'\"=-_/"
_SELECTIVE = 6  # a shared keyword shorter than this passes too many ordinary lines
# A literal held by this many rules is worth one keyword for all of them ("NVRM: Xid (", "SXid (");
# held by fewer, each rule's own longest literal is more selective ("EXT4-fs (" is on every ext4
# mount line, "): error loading journal" only on the fault).
_SHARED_BY = 4


def required_literals(pattern: re.Pattern[str], *, trim: bool = True) -> list[str]:
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
    for op, value in _flattened(parsed):
        if op is sre_parse.LITERAL:
            run += chr(value)
            continue
        runs.append(run)
        run = ""
    runs.append(run)
    # Leading spaces and punctuation (": Killed process") are frequent characters where a scan
    # for the keyword would start often; the rest of the run is required just the same.
    # `trim=False` keeps them, where the run is compared whole rather than scanned for.
    trimmed = (run.lstrip(_PUNCTUATION) if trim else run for run in runs)
    return [run for run in trimmed if len(run) >= _MIN_KEYWORD]


def _flattened(parsed: Any) -> list[tuple[Any, Any]]:
    r"""The parsed items, with groups that hold only literals opened up: in `\): (?P<xid>79),` the
    code is required text like the rest, and the run `): 79,` tells one Xid rule from another."""
    items: list[tuple[Any, Any]] = []
    for op, value in parsed:
        if op is sre_parse.SUBPATTERN:
            inner = list(value[-1])
            if inner and all(inner_op is sre_parse.LITERAL for inner_op, _ in inner):
                items.extend(inner)
                continue
        items.append((op, value))
    return items


def _keywords(literals: list[list[str]]) -> list[str]:
    """One keyword per rule: a literal other rules share (fewer keywords to scan for) when it is
    long enough to be selective, else the rule's longest literal."""
    shared = Counter(literal for runs in literals for literal in set(runs))

    def score(run: str) -> tuple[bool, int]:
        return shared[run] >= _SHARED_BY and len(run) >= _SELECTIVE, len(run)

    chosen = {_from_a_rare_character(max(runs, key=score)) for runs in literals if runs}
    # A keyword that holds a shorter keyword adds nothing: the shorter one already passes.
    return sorted(k for k in chosen if not any(o != k and o in k for o in chosen))


# How often a character starts a scan in kernel log text, roughly: the regex engine tries a
# keyword at every position holding its first character, so a keyword that starts at a rare one
# is tried far less often ("RM: Xid (" rather than "NVRM: Xid (" would not help; "Xid (" would).
_COMMON = " etaoinsrhldcumfpgwybvkxjqz"  # space, then lower-case letters by English frequency
_DIGITS = "0123456789"


def _rarity(char: str) -> int:
    if char.isupper():
        return 0
    if char in _DIGITS:  # stamps, addresses, counters: frequent in kernel lines
        return 40
    if char in _COMMON:
        return 40 - _COMMON.index(char)
    return 10  # punctuation other than the frequent separators below
_FREQUENT_PUNCTUATION = ":.,-=/"


def _from_a_rare_character(keyword: str) -> str:
    """The part of `keyword` from its rarest starting character on, at least _SELECTIVE long (or
    whole): any part of a required text is required too, so the filter stays exact."""
    shortest = min(_SELECTIVE, len(keyword))
    starts = range(len(keyword) - shortest + 1)

    def cost(start: int) -> tuple[int, int]:
        char = keyword[start]
        rarity = 40 if char in _FREQUENT_PUNCTUATION else _rarity(char)
        return rarity, start  # the earliest of equals keeps the longest part
    return keyword[min(starts, key=cost):]


def _trie(words: list[str]) -> str:
    """One pattern for "any of these words", with shared beginnings factored out
    (`NVRM: (?:Xid \\(|API mismatch)`): the regex engine then follows one branch per character
    instead of trying every word at every position, about 1.5x faster on 40 words. The pattern
    has literals and groups only, so its UTF-8 encoding matches the same words in bytes."""
    trie: dict[str, dict[str, Any]] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        if "" in node:  # a word ends here: the longer ones add nothing to "any of"
            return ""
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(trie)


class Prefilter:
    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        literals = [required_literals(pattern) for pattern in patterns]
        self.always = any(not runs for runs in literals)
        self.keywords = _keywords(literals)
        pattern = _trie(self.keywords) if self.keywords else None
        self._any = re.compile(pattern) if pattern else None
        # The same keywords as bytes, so raw log lines need no decoding until one passes (a
        # keyword found in the decoded text is found in the bytes: replacement never adds text).
        self._any_bytes = re.compile(pattern.encode()) if pattern else None

    def may_match(self, line: str | bytes) -> bool:
        if self.always:
            return True
        if isinstance(line, bytes):
            return self._any_bytes is not None and self._any_bytes.search(line) is not None
        return self._any is not None and self._any.search(line) is not None
