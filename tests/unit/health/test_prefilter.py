"""The prefilter never hides a line a rule would match, and derives selective keywords."""
from __future__ import annotations

import re

import pytest

from hyperpod_deps.health.prefilter import Prefilter, required_literals
from hyperpod_deps.health.rules import RuleSet
from tests.unit.health.samples import near_misses, samples


@pytest.mark.parametrize(("pattern", "expected"), [
    # A group of literals is required text like the rest: "): 79," tells Xid rules apart.
    (r"NVRM: Xid \((?:PCI:)?(?P<pci>[0-9a-f:.]+)\): (?P<xid>79),", ["NVRM: Xid (", "79,"]),
    (r"NVRM: Xid \((?P<pci>[0-9a-f:.]+)\): (?P<xid>\d+)", ["NVRM: Xid ("]),
    (r"abc|abd", []),  # an alternation at the top level has no required literal
    (r"(?i)NVRM: Xid", []),  # case-insensitive: no literal is safe
    (r"ab+c", []),  # runs shorter than 3 characters are not keywords
    (r"^INFO: task .+ blocked", ["INFO: task ", "blocked"]),  # leading space trimmed
    (r"x: Killed process \d", ["x: Killed process "]),
])
def test_required_literals(pattern: str, expected: list[str]) -> None:
    assert required_literals(re.compile(pattern)) == expected


def test_a_rule_without_a_literal_makes_every_line_a_candidate() -> None:
    prefilter = Prefilter([re.compile("NVRM: Xid"), re.compile(r"(?i)oops")])
    assert prefilter.always and prefilter.may_match("anything at all")


def test_keywords_prefer_a_shared_selective_literal_and_drop_longer_duplicates() -> None:
    prefilter = Prefilter([re.compile(r"NVRM: Xid \(.*\): 79,"), re.compile(r"NVRM: Xid \(.*\): 48,"),
                           re.compile("EXT4-fs error"), re.compile(r"EXT4-fs error \(device")])
    assert prefilter.keywords == ["EXT4-fs error", "NVRM: Xid ("]
    assert prefilter.may_match("kernel: NVRM: Xid (PCI:0): 79, x")
    assert not prefilter.may_match("kernel: NVRM: loading module")


def test_shipped_prefilter_agrees_with_the_rules_on_every_sample_and_near_miss() -> None:
    rules = RuleSet.load()
    for source, by_rule in samples().items():
        for cases in by_rule.values():
            for case in cases:
                assert rules.may_match(source, case["line"]), case["line"]
                assert rules.may_match(source, case["line"].encode()), case["line"]
    ordinary = "Nov 28 12:00:01 host kernel: [ 1.0] Linux version 6.1.0 (gcc 12)"
    assert not rules.may_match("kmsg", ordinary)
    for source, lines in near_misses().items():
        for line in lines:
            if not rules.may_match(source, line):
                assert rules.match_unfiltered(source, line) is None


def test_bytes_and_text_agree_even_around_undecodable_bytes() -> None:
    prefilter = Prefilter([re.compile("NVRM: Xid"), re.compile("EDAC MC")])
    for raw in (b"\xffNVRM: Xid\xfe", b"NVRM:\xff Xid", b"EDAC\x00MC", "caf\u00e9 EDAC MC".encode()):
        assert prefilter.may_match(raw) == prefilter.may_match(raw.decode("utf-8", errors="replace"))


@pytest.mark.parametrize(("pattern", "keyword"), [
    (r"NVRM: Xid \((?P<pci>\S+)\)", "NVRM: Xid ("),  # already starts at a capital
    (r"INFO: task (?P<task>.+) blocked for more than", "ked for more than"),  # from the rare 'k'
    (r"timeout", "imeout"),
    (r"BUG: ", "BUG: "),  # shorter than a part would be: whole
])
def test_keywords_start_at_a_rare_character(pattern: str, keyword: str) -> None:
    """The engine tries a keyword wherever its first character occurs; any part of a required
    text is required too, so starting later costs nothing in exactness."""
    assert Prefilter([re.compile(pattern)]).keywords == [keyword]
