"""Classification throughput over the corpus: our classifier in this process, and each detector
process taking the whole corpus as one burst appended to the file it tails.

A detector is started on an empty file and left to settle; then the corpus is appended (1 MiB
writes, well under a second) and its Prometheus counters are polled every 0.1 s until they say
the last line was classified: node-problem-detector's `problem_counter{reason="XidOther"}`
reaching the corpus' count of Xids other than 79 (its last line is one), our agent's
`hyperpod_health_rule_evaluations_total` reaching its line count. Throughput = lines / (that
moment - the start of the append); CPU seconds from /proc over the same span.
"""
from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib
import detectors
import npd_config
from detectors import Detector
from kernel_corpus import Summary

from hyperpod_deps.health.classify import classify_lines
from hyperpod_deps.health.rules import RuleSet

SETTLE_SECONDS = 2.0
POLL_SECONDS = 0.1
BURST_TIMEOUT_SECONDS = 900


def classifier(corpus: Summary, rules: RuleSet) -> dict[str, Any]:
    """classify_lines over the file, as `hyperpod-deps health classify` runs it."""
    cpu, started = time.process_time(), time.perf_counter()
    with Path(corpus.path).open("rb") as stream:
        found = Counter(c.rule for c in classify_lines(rules, stream, matched_only=True))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if found != corpus.by_rule:
        raise SystemExit(f"classifier on {corpus.format}: found {dict(found)}, "
                         f"planted {dict(corpus.by_rule)}")
    return _rates(corpus.lines, seconds, cpu) | {"format": corpus.format, "faults_found": sum(found.values())}


def burst(detector: Detector, tailed: Path, corpus: Summary, done: Callable[[], bool]) -> dict[str, Any]:
    before = detector.memory()
    load = benchlib.load_average()
    cpu, started = detector.cpu_seconds(), time.monotonic()
    with Path(corpus.path).open("rb") as source, tailed.open("ab") as target:
        shutil.copyfileobj(source, target, 1 << 20)
    appended = time.monotonic() - started
    while not done():
        detector.alive()
        if time.monotonic() - started > BURST_TIMEOUT_SECONDS:
            raise SystemExit(f"{detector.name} did not finish the corpus in {BURST_TIMEOUT_SECONDS} s")
        time.sleep(POLL_SECONDS)
    seconds = time.monotonic() - started
    after = detector.memory()
    return _rates(corpus.lines, seconds, detector.cpu_seconds() - cpu) | {
        "append_seconds": round(appended, 2), "rss_before_mib": before.rss_mib,
        "rss_after_mib": after.rss_mib, "peak_rss_mib": after.peak_mib,
        "load_before": load, "load_after": benchlib.load_average()}


def npd(binary: Path, work: Path, corpus: Summary, rules: RuleSet) -> dict[str, Any]:
    """Standalone (no exporter to the API server), as the brief for this figure asks."""
    tailed = work / "npd-kern.log"
    tailed.touch()
    detector = detectors.start_npd(binary, work, tailed, "npd-bench-throughput", rules)
    other = len(corpus.other_xid_lines)
    try:
        detectors.wait_until(lambda: _counter(detector, npd_config.OTHER_XID_REASON) is not None,
                             "metrics endpoint", detector)
        time.sleep(SETTLE_SECONDS)
        result = burst(detector, tailed, corpus, lambda: (_counter(detector, npd_config.OTHER_XID_REASON)
                                                          or 0) >= other)
        # A permanent rule counts once per change of its condition: once for the whole corpus.
        xid79 = _counter(detector, npd_config.XID79_REASON)
        condition = detector.metric("problem_gauge", type=npd_config.CONDITION,
                                    reason=npd_config.XID79_REASON)
        if xid79 != 1 or condition != 1:
            raise SystemExit(f"npd: Xid 79 counter {xid79}, condition gauge {condition}; expected 1 and 1")
        return result | {"other_xid_counted": _counter(detector, npd_config.OTHER_XID_REASON)}
    finally:
        detector.stop()


def agent(work: Path, corpus: Summary, node: str, kubeconfig: Path) -> dict[str, Any]:
    """The agent process, writing to its own simulated node as it would on a real one."""
    tailed = work / "agent-kern.log"
    tailed.touch()
    detector = detectors.start_agent(work, tailed, node, kubeconfig)
    evaluations = "hyperpod_health_rule_evaluations_total"
    try:
        detectors.wait_until(lambda: detector.log_has(detectors.AGENT_STARTED)
                             and detector.scrape() is not None, "start", detector)
        time.sleep(SETTLE_SECONDS)
        base, matched = detector.metric(evaluations) or 0, detector.metric(evaluations, result="match") or 0
        result = burst(detector, tailed, corpus,
                       lambda: (detector.metric(evaluations) or 0) - base >= corpus.lines)
        found = (detector.metric(evaluations, result="match") or 0) - matched
        if found != sum(corpus.by_rule.values()):
            raise SystemExit(f"agent matched {found} lines, planted {sum(corpus.by_rule.values())}")
        return result | {"faults_found": found}
    finally:
        detector.stop()


def _counter(detector: Detector, reason: str) -> float | None:
    return detector.metric("problem_counter", reason=reason)


def _rates(lines: int, seconds: float, cpu: float) -> dict[str, Any]:
    return {"lines": lines, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "lines_per_second": round(lines / seconds), "lines_per_cpu_second": round(lines / cpu)}
