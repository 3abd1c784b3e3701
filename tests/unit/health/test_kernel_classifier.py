"""KernelClassifier, the agent's kernel-log path: only trusted origins make Faults; the rest are counted."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.kernel_log import KernelLog, Origin
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.metrics import Metrics
from hyperpod_deps.health.rules import RuleSet
from hyperpod_deps.health.sources import KernelClassifier
from hyperpod_deps.health.trust import Trust, log_file_trust

RULES = RuleSet.load()
NOW = datetime(2025, 5, 18, 19, 2, 39, tzinfo=UTC)
XID = "NVRM: Xid (PCI:0000:01:00): 79, pid=1, name=x, GPU has fallen off the bus."


def classifier(trust: Trust = Trust.KERNEL) -> tuple[KernelClassifier, Metrics, io.StringIO]:
    out, metrics = io.StringIO(), Metrics()
    return KernelClassifier(RULES, metrics, AgentLog(out, clock=lambda: NOW), trust), metrics, out


def count(metrics: Metrics, result: str) -> float:
    value = metrics.registry.sample("hyperpod_health_rule_evaluations_total",
                                    {"source": "kmsg", "result": result})
    return value or 0.0


def test_kmsg_acts_only_on_the_kernel_s_records() -> None:
    kernel, metrics, out = classifier()
    faults = kernel.faults([f"3,5,6,-;{XID}".encode(), f"11,6,7,-;{XID}".encode(), b"6,7,8,-;hello"], NOW)
    assert [(f.rule, f.action) for f in faults] == [("kmsg/xid-79", Action.REPLACE)]
    assert (count(metrics, "match"), count(metrics, "untrusted"), count(metrics, "nomatch")) == (1, 1, 1)
    logged = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [entry["msg"].startswith("NPD caught event") for entry in logged].count(True) == 1
    [untrusted] = [entry for entry in logged if entry["level"] == "warn"]
    assert untrusted["origin"] == "userspace" and untrusted["rule"] == "kmsg/xid-79"
    assert "not written by the kernel" in untrusted["msg"] and untrusted["action"] == "replace"


def test_a_log_file_trusts_nothing_unless_the_kernel_tag_is_trusted() -> None:
    line = f"May 18 19:02:39 node kernel: {XID}".encode()
    forged = f"May 18 19:02:39 node ec2-user: {XID}".encode()
    by_default, metrics, _ = classifier(log_file_trust(False))
    assert by_default.faults([line, forged], NOW) == [] and count(metrics, "untrusted") == 2
    opted_in, metrics, _ = classifier(log_file_trust(True))
    assert [f.rule for f in opted_in.faults([line, forged], NOW)] == ["kmsg/xid-79"]
    assert count(metrics, "untrusted") == 1


def test_records_parsed_by_their_source() -> None:
    journal, metrics, _ = classifier()
    records = [KernelLog(XID, 3, None, 1, Origin.KERNEL), KernelLog(XID, 11, None, 2, Origin.USERSPACE),
               KernelLog("nothing", 6, None, 3, Origin.KERNEL)]
    faults = journal.faults_from_records(records, NOW)
    assert [f.rule for f in faults] == ["kmsg/xid-79"] and faults[0].timestamp == "2025-05-18T19:02:39Z"
    assert (count(metrics, "match"), count(metrics, "untrusted"), count(metrics, "nomatch")) == (1, 1, 1)


def test_forged_lines_cannot_flood_the_log() -> None:
    """One warning per rule and origin a minute, saying how many were left out; every one counted."""
    clock = [100.0]
    out, metrics = io.StringIO(), Metrics()
    kernel = KernelClassifier(RULES, metrics, AgentLog(out, clock=lambda: NOW), Trust.KERNEL,
                              monotonic=lambda: clock[0])
    forged = f"11,6,7,-;{XID}".encode()
    assert kernel.faults([forged] * 500, NOW) == []
    clock[0] += 61
    kernel.faults([forged], NOW)
    warnings = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [w["earlier_not_logged"] for w in warnings] == [0, 499]
    assert count(metrics, "untrusted") == 501
