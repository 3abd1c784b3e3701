"""Every shipped rule loads, has a real sample that triggers exactly it, and near misses match nothing."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.rules import SOURCES, RuleSet, shipped_sources
from tests.unit.health.samples import near_misses, samples

RULES = RuleSet.load()
SAMPLES = samples()
CASES = [(source, rule_id, case) for source, by_rule in SAMPLES.items()
         for rule_id, cases in by_rule.items() for case in cases]


def _message(source: str, line: str) -> str:
    if source != "kmsg":
        return line
    record = parse_record(line)
    assert record is not None, line
    return record.message


def test_every_shipped_file_loads_and_holds_rules() -> None:
    names = [source.name for source in shipped_sources()]
    folder = Path(__file__).resolve().parents[3] / "src/hyperpod_deps/health/rules"
    # Per source its own file first, then its `<source>-*.yaml` files by name: a fixed order.
    expected = [f"rules/{name}" for source in SOURCES
                for name in [f"{source}.yaml", *sorted(p.name for p in folder.glob(f"{source}-*.yaml"))]]
    assert names == expected
    assert "rules/kmsg-nvidia.yaml" in names
    assert len(names) == len(list(folder.glob("*.yaml"))), "a rule file no source loads"
    for source in SOURCES:
        assert RULES.rules(source), source


# The rules generated from NVIDIA's catalogues, one per code: test_nvidia_rules.py gives each a line
# in the driver's format; samples.yaml holds real lines for each line format.
CATALOGUE_RULE = re.compile(r"s?xid-\d+")


@pytest.mark.parametrize("source", SOURCES)
def test_every_rule_has_a_sample(source: str) -> None:
    ids = {rule.id for rule in RULES.rules(source) if not CATALOGUE_RULE.fullmatch(rule.id)}
    missing = ids - set(SAMPLES.get(source, {}))
    assert not missing, f"rules without a sample line in tests/data/kernel-logs/samples.yaml: {missing}"


def test_no_sample_names_an_unknown_rule() -> None:
    known = {(s, r.id) for s in SOURCES for r in RULES.rules(s)}
    assert {(s, r) for s, r, _ in CASES} <= known


@pytest.mark.parametrize(("source", "rule_id", "case"), CASES, ids=[f"{s}/{r}" for s, r, _ in CASES])
def test_sample_triggers_exactly_its_rule(source: str, rule_id: str, case: dict[str, str]) -> None:
    message = _message(source, case["line"])
    match = RULES.match(source, message)
    assert match is not None, f"no rule matched {message!r}"
    assert (match.rule, match.action) == (rule_id, Action(case["action"]))
    assert match.source == source and match.message == message.strip()
    # "exactly it": no other rule of the source matches the sample at all, except the
    # catch-alls (priority 900) that sit behind the specific rules on purpose.
    others = [r.id for r in RULES.rules(source) if r.id != rule_id and r.priority < 900
              and r.regex.search(message)]
    assert others == []


@pytest.mark.parametrize(("source", "rule_id", "case"), [c for c in CASES if c[0] == "kmsg"],
                         ids=[f"{s}/{r}" for s, r, _ in CASES if s == "kmsg"])
def test_sample_matches_the_same_in_every_log_format(source: str, rule_id: str, case: dict[str, str]) -> None:
    message = _message(source, case["line"])
    escaped = message.replace("\n", "\\x0a")  # /dev/kmsg escapes a newline inside a record
    for line in (f"6,1,2,-;{escaped}", f"Nov  2 03:04:05 host kernel: [ 12.345678] {message}",
                 f"2024-11-28T12:00:01.5+01:00 host kernel: {message}", f"[   5.000001] {message}"):
        match = RULES.match(source, _message(source, line))
        assert match is not None and match.rule == rule_id, line


@pytest.mark.parametrize("source", SOURCES)
def test_near_misses_match_no_rule(source: str) -> None:
    for line in near_misses()[source]:
        assert RULES.match(source, _message(source, line)) is None, line


def test_the_generated_rule_table_is_current() -> None:
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, str(root / "hack/gen_health_rules_doc.py"), "--check"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    table = (root / "docs/health-rules.md").read_text()
    assert all(f"| `{rule.id}` |" in table for source in SOURCES for rule in RULES.rules(source))
