"""The rule index picks, for every line, the rule trying every rule in order would pick."""
from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from hyperpod_deps.core.settings import convert
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.rule_index import RuleIndex
from hyperpod_deps.health.rule_model import Rule
from hyperpod_deps.health.rules import RuleSet
from tests.unit.health.samples import DATA, near_misses, samples

RULES = RuleSet.load()


def _linear(source: str, message: str) -> str | None:
    for rule in RULES.rules(source):
        if rule.regex.search(message):
            return rule.id
    return None


def _messages() -> list[str]:
    lines = [case["line"] for cases in samples()["kmsg"].values() for case in cases]
    lines += near_misses()["kmsg"]
    for corpus in ("field-corpus.yaml", "holdout-corpus.yaml"):
        lines += [entry["line"] for entry in yaml.safe_load((DATA / corpus).read_text())]
    records = (parse_record(line) for line in lines)
    return [record.message for record in records if record is not None]


MESSAGES = _messages()


def test_every_known_line_gets_the_rule_the_full_scan_gives() -> None:
    assert len(MESSAGES) > 300
    for message in MESSAGES:
        found = RULES.match_unfiltered("kmsg", message)
        assert (found.rule if found else None) == _linear("kmsg", message), message


@given(st.sampled_from(MESSAGES), st.text(max_size=40), st.text(max_size=40))
def test_text_around_a_line_changes_nothing_the_full_scan_would_not(message: str, before: str,
                                                                     after: str) -> None:
    line = before + message + after
    found = RULES.match_unfiltered("kmsg", line)
    assert (found.rule if found else None) == _linear("kmsg", line)


def _rule(rule_id: str, match: str) -> Rule:
    return convert(Rule, {"id": rule_id, "description": "d", "match": match, "faultType": "T",
                                "reason": "R", "action": "warning"})


def test_order_is_kept_and_rules_without_a_literal_are_always_candidates() -> None:
    rules = [_rule("xid-79", r"Xid \(\S+\): (?P<xid>79)\b"), _rule("any-case", r"(?i)fallen"),
             _rule("xid-other", r"Xid \(\S+\): \d+")]
    index = RuleIndex(rules)
    assert [r.id for r in index.candidates("Xid (PCI:0): 79, GPU has fallen")] == ["xid-79", "any-case",
                                                                                  "xid-other"]
    assert [r.id for r in index.candidates("Xid (PCI:0): 13, x")] == ["any-case", "xid-other"]
    assert [r.id for r in index.candidates("nothing")] == ["any-case"]

