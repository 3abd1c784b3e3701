"""node-problem-detector's side of the comparison: a system-log-monitor config (`filelog`
plugin) with the Xid rules of ours, and its command line.

Format as in k8s.io/node-problem-detector@v1.36.0 (config/kernel-monitor-filelog.json,
pkg/systemlogmonitor): each line must yield a timestamp (`timestamp` regex + Go layout) and a
message (the last group of `message`); a rule's `pattern` must match up to the end of the log
buffer (NPD appends `\\z`), so the patterns end in `.*`; every rule is tried on every line (no
first-match-wins), so "any other Xid" has to leave 79 out itself.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hyperpod_deps.health.rules import RuleSet

SOURCE = "gpu-xid-monitor"
CONDITION = "NvidiaGPUUnhealthy"  # our fault type for Xid 79
XID79_REASON = "XidHardwareFailure"  # our reason for Xid 79
OTHER_XID_REASON = "XidOther"
# RE2 (Go) has no lookahead: every Xid number but 79, spelt out.
NOT_79 = r"(?:[0-9]|[1-6][0-9]|7[0-8]|[89][0-9]|[1-9][0-9]{2,})"
# RFC 3164 lines as kernel_corpus.py writes them (and rsyslog does): the message follows
# "host program: " and the kernel's optional "[ seconds]" stamp, as our parser reads it.
SYSLOG_MESSAGE = r"^.{15} \S+ [^:\s]+: ?(?:\[\s*\d+(?:\.\d+)?\]\s?)?(.*)"


def xid_patterns(rules: RuleSet) -> tuple[str, str]:
    """Our xid-79 regex as NPD patterns: itself, and with any Xid but 79 (what our `xid-other`
    and the per-Xid rules match between them)."""
    rule = rules.rule("xid-79")
    assert rule is not None, "the shipped rules have no xid-79"
    ours = rule.regex.pattern
    assert "(?P<xid>79)" in ours, f"xid-79 changed shape: {ours}"
    return f"{ours}.*", ours.replace("(?P<xid>79)", f"(?P<xid>{NOT_79})") + ".*"


def monitor_config(log_path: Path, rules: RuleSet) -> dict[str, Any]:
    xid79, other = xid_patterns(rules)
    return {
        "plugin": "filelog",
        "pluginConfig": {"timestamp": "^.{15}", "message": SYSLOG_MESSAGE,
                         "timestampFormat": "Jan _2 15:04:05"},
        "logPath": str(log_path),
        # Lines are kept when stamped after boot and within the lookback: a year takes the whole corpus.
        "lookback": "8760h",
        # Single-line rules need one line of buffer; NPD matches each rule against the whole buffer
        # joined, so this is its cheapest setting (its sample configs use 10).
        "bufferSize": 1,
        "source": SOURCE,
        "conditions": [{"type": CONDITION, "reason": "NoXid79", "message": "no Xid 79 seen"}],
        "rules": [
            {"type": "permanent", "condition": CONDITION, "reason": XID79_REASON, "pattern": xid79},
            {"type": "temporary", "reason": OTHER_XID_REASON, "pattern": other},
        ],
    }


def write_config(folder: Path, log_path: Path, rules: RuleSet) -> Path:
    target = folder / f"{log_path.stem}-npd.json"
    target.write_text(json.dumps(monitor_config(log_path, rules), indent=2) + "\n")
    return target


def command(binary: Path, config: Path, metrics_port: int, node: str,
            server: str | None = None, kubeconfig: Path | None = None) -> list[str]:
    """Standalone (no API server) without `server`; else writing conditions and events of `node`."""
    args = [str(binary), f"--config.system-log-monitor={config}", "--port=0",
            "--prometheus-address=127.0.0.1", f"--prometheus-port={metrics_port}",
            f"--hostname-override={node}"]
    if server is None:
        return [*args, "--enable-k8s-exporter=false"]
    return [*args, f"--apiserver-override={server}?inClusterConfig=false&auth={kubeconfig}"]
