"""The figures of npd_compare.py: medians, nearest-rank percentiles, ratios ours / NPD's, the
issue's goals checked, and the lines for benchmarks/README.md."""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

P99_GOAL_SECONDS = 0.25
RSS_GOAL_MIB = 64.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it (with 50
    samples, p99 is the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _ratio(ours: float, theirs: float) -> float | None:
    """None when NPD's figure is 0 (idle CPU below one clock tick over the whole window)."""
    return round(ours / theirs, 3) if theirs else None


def _throughput(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["lines_per_second"] for r in runs]
    figures = {"runs": len(runs), "lines_per_second": round(statistics.median(rates)), "min": min(rates),
               "max": max(rates),
               "lines_per_cpu_second": round(statistics.median(r["lines_per_cpu_second"] for r in runs))}
    if "peak_rss_mib" in runs[0]:
        figures["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    return figures


def _latency(samples: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [s["seconds"] for s in samples]
    return {"samples": len(seconds), "p50": percentile(seconds, 50), "p99": percentile(seconds, 99),
            "min": min(seconds), "max": max(seconds)}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    throughput = {name: _throughput(runs) for name, runs in result["throughput"].items()}
    latency = {name: _latency(samples) for name, samples in result["latency"].items()}
    idle = result["idle"]
    npd_rate = throughput["npd"]["lines_per_second"]
    npd_cpu_rate = throughput["npd"]["lines_per_cpu_second"]
    ratios = {
        "agent_lines_per_second": _ratio(throughput["agent"]["lines_per_second"], npd_rate),
        "classifier_lines_per_second": _ratio(throughput["classifier_syslog"]["lines_per_second"], npd_rate),
        "agent_lines_per_cpu_second": _ratio(throughput["agent"]["lines_per_cpu_second"], npd_cpu_rate),
        "classifier_lines_per_cpu_second": _ratio(throughput["classifier_syslog"]["lines_per_cpu_second"],
                                                  npd_cpu_rate),
        "latency_p50": _ratio(latency["agent"]["p50"], latency["npd"]["p50"]),
        "latency_p99": _ratio(latency["agent"]["p99"], latency["npd"]["p99"]),
        "idle_cpu": _ratio(idle["agent"]["cpu_percent"], idle["npd"]["cpu_percent"]),
        "idle_rss": _ratio(idle["agent"]["rss_mib"], idle["npd"]["rss_mib"]),
        "burst_peak_rss": _ratio(throughput["agent"]["peak_rss_mib"], throughput["npd"]["peak_rss_mib"]),
    }
    goals = {
        "agent_not_slower_than_npd": throughput["agent"]["lines_per_second"] >= npd_rate,
        "classifier_not_slower_than_npd": throughput["classifier_syslog"]["lines_per_second"] >= npd_rate,
        "agent_p99_under_250ms": latency["agent"]["p99"] < P99_GOAL_SECONDS,
        "agent_idle_rss_under_64mib": idle["agent"]["rss_mib"] < RSS_GOAL_MIB,
        "agent_peak_rss_under_64mib": max(throughput["agent"]["peak_rss_mib"], idle["agent"]["peak_mib"])
        < RSS_GOAL_MIB,
    }
    return {"throughput": throughput, "latency": latency, "idle": idle, "ratios": ratios, "goals": goals}


def _row(what: str, npd: object, ours: object, ratio: object) -> str:
    return f"| {what} | {npd} | {ours} | {'-' if ratio is None else ratio} |"


def table(figures: dict[str, Any]) -> str:
    t, lat, idle, ratio = figures["throughput"], figures["latency"], figures["idle"], figures["ratios"]
    npd, agent, syslog, kmsg = t["npd"], t["agent"], t["classifier_syslog"], t["classifier_kmsg"]
    rows = [
        "| what | node-problem-detector | ours | ours / NPD |",
        "|---|---|---|---|",
        _row("burst into the tailed file, lines/s (median)", f"{npd['lines_per_second']:,}",
             f"agent {agent['lines_per_second']:,}", ratio["agent_lines_per_second"]),
        _row("classifier alone, lines/s (median)", "-",
             f"syslog {syslog['lines_per_second']:,}, kmsg {kmsg['lines_per_second']:,}",
             f"{ratio['classifier_lines_per_second']} (syslog)"),
        _row("lines per CPU second (median)", f"{npd['lines_per_cpu_second']:,}",
             f"agent {agent['lines_per_cpu_second']:,}, classifier {syslog['lines_per_cpu_second']:,}",
             f"{ratio['agent_lines_per_cpu_second']} / {ratio['classifier_lines_per_cpu_second']}"),
        _row("peak RSS during the burst, MiB", npd["peak_rss_mib"], agent["peak_rss_mib"],
             ratio["burst_peak_rss"]),
        _row("detection latency p50, s", f"{lat['npd']['p50']:.3f}", f"{lat['agent']['p50']:.3f}",
             ratio["latency_p50"]),
        _row("detection latency p99, s", f"{lat['npd']['p99']:.3f}", f"{lat['agent']['p99']:.3f}",
             ratio["latency_p99"]),
        _row("idle CPU, %", idle["npd"]["cpu_percent"], idle["agent"]["cpu_percent"], ratio["idle_cpu"]),
        _row("idle RSS, MiB", idle["npd"]["rss_mib"], idle["agent"]["rss_mib"], ratio["idle_rss"]),
    ]
    goals = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in figures["goals"].items())
    return "\n".join(rows) + f"\n\ngoals: {goals}"
