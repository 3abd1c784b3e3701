"""The pure parts of benchmarks/npd_compare.py: the corpus plants exactly what it reports, the
node-problem-detector rules split Xids as ours do, and the figures are read and summarised
right. Nothing here is timed: the benchmark itself is run by hand (make bench-health)."""
from __future__ import annotations

import re
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from hyperpod_deps.health.classify import classify_lines
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.rules import RuleSet

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import detectors
import kernel_corpus
import npd_config
import npd_report

START = datetime(2026, 3, 1, 12, 0, 0)
RECORDS = 20_000


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.load()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, kernel_corpus.Summary]:
    folder = tmp_path_factory.mktemp("corpus")
    return {fmt: kernel_corpus.write(folder / f"{fmt}.log", RECORDS, fmt, 7, START)
            for fmt in ("syslog", "kmsg")}


def test_the_same_seed_and_start_write_the_same_bytes(tmp_path: Path,
                                                      corpora: dict[str, kernel_corpus.Summary]) -> None:
    again = kernel_corpus.write(tmp_path / "again.log", RECORDS, "syslog", 7, START)
    assert (tmp_path / "again.log").read_bytes() == Path(corpora["syslog"].path).read_bytes()
    other = kernel_corpus.write(tmp_path / "other.log", RECORDS, "syslog", 8, START)
    assert other.by_rule != again.by_rule or other.xid79_lines != again.xid79_lines


@pytest.mark.parametrize("fmt", ["syslog", "kmsg"])
def test_our_classifier_finds_exactly_the_planted_faults(fmt: str, rules: RuleSet,
                                                         corpora: dict[str, kernel_corpus.Summary]) -> None:
    corpus = corpora[fmt]
    with Path(corpus.path).open("rb") as stream:
        found = list(classify_lines(rules, stream, matched_only=True))
    assert Counter(c.rule for c in found) == corpus.by_rule
    assert [c.line_number for c in found if c.rule == "xid-79"] == corpus.xid79_lines
    lines = Path(corpus.path).read_text().splitlines()
    assert len(lines) == corpus.lines
    assert all(": 79, " not in lines[n - 1] for n in corpus.other_xid_lines)
    assert corpus.other_xid_lines[-1] == corpus.lines  # the last line ends NPD's count


def test_both_framings_hold_the_same_records(corpora: dict[str, kernel_corpus.Summary]) -> None:
    def messages(path: str) -> list[str]:
        records = (parse_record(line) for line in Path(path).read_text().splitlines())
        return [r.message.rpartition("]: ")[2] for r in records if r is not None]
    assert messages(corpora["syslog"].path) == messages(corpora["kmsg"].path)
    assert corpora["kmsg"].lines > corpora["syslog"].lines  # continuation lines


def test_the_counts_follow_the_plan() -> None:
    plan = kernel_corpus.plan(1_000_000, 1)
    assert Counter(plan.values()) == {"xid-79": 50, "other-xid": 1000, "other-fault": 200}
    assert plan[999_999] == "other-xid"


@pytest.mark.parametrize("number", [*range(0, 200), 790, 799, 1079])
def test_npd_patterns_split_xids_as_our_rules_do(number: int, rules: RuleSet) -> None:
    xid79, other = npd_config.xid_patterns(rules)
    message = f"NVRM: Xid (PCI:0000:10:00): {number}, pid=1, name=python3, text"
    line = f"Mar  1 12:00:00 host kernel: [ 12.5] {message}"
    # NPD extracts the message with its regex, then anchors each pattern at the end (\z).
    extracted = re.fullmatch(npd_config.SYSLOG_MESSAGE, line)
    assert extracted is not None and extracted.group(1) == message
    assert bool(re.search(xid79 + r"\Z", message)) == (number == 79)
    assert bool(re.search(other + r"\Z", message)) == (number != 79)
    match = rules.match("kmsg", message)
    assert match is not None and (match.rule == "xid-79") == (number == 79)


def test_prometheus_samples_keep_their_exposed_names() -> None:
    text = ('# TYPE problem_counter counter\nproblem_counter{reason="XidOther"} 29\n'
            'problem_gauge{reason="A",type="B"} 1\nup 1.5e+09\n')
    assert detectors.parse_samples(text) == [("problem_counter", {"reason": "XidOther"}, 29.0),
                                             ("problem_gauge", {"reason": "A", "type": "B"}, 1.0),
                                             ("up", {}, 1.5e9)]


@pytest.mark.parametrize(("p", "expected"), [(50, 25), (99, 50), (100, 50), (1, 1)])
def test_nearest_rank_percentile(p: float, expected: int) -> None:
    assert npd_report.percentile([float(v) for v in range(50, 0, -1)], p) == expected
