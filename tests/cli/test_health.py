"""hyperpod-deps health classify, through click and as the installed command."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.main import cli

LOG = (
    "6,1,100,-;Linux version 6.1.0\n"
    "3,2,200,-;NVRM: Xid (PCI:0000:b9:00): 79, pid=1, name=x, GPU has fallen off the bus.\n"
    "Nov 28 12:00:01 h kernel: [ 3.0] INFO: task python3:7 blocked for more than 120 seconds.\n"
    "4,3,300,-;NVRM: Xid (PCI:0000:3b:00): 13, pid=2, name=y, Graphics Exception\n"
    "4,4,400,-;NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed from 0x0 (None) "
    "to 0x2 (Node Reboot Required)\n"
)


def classify(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["health", "classify", *args], input=stdin)


def log_file(tmp_path: Path, text: str = LOG) -> Path:
    path = tmp_path / "kern.log"
    path.write_text(text)
    return path


def test_json_lists_each_matched_line_with_rule_and_action(tmp_path: Path) -> None:
    result = classify(str(log_file(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [(e["line"], e["rule"], e["action"]) for e in entries] == [
        (2, "xid-79", "replace"), (3, "hung-task", "warning"), (4, "xid-13", "event"),
        (5, "xid-154", "reboot")]
    assert entries[0]["faultType"] == "NvidiaGPUUnhealthy" and entries[0]["reason"] == "XidHardwareFailure"


def test_all_includes_unmatched_lines_as_none(tmp_path: Path) -> None:
    entries = json.loads(classify(str(log_file(tmp_path)), "--json", "--all").output)
    assert len(entries) == 5
    assert entries[0] == {"line": 1, "text": "Linux version 6.1.0", "rule": None, "faultType": None,
                          "reason": None, "action": "none"}


def test_human_table_and_summary_per_action(tmp_path: Path) -> None:
    result = classify(str(log_file(tmp_path)))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["LINE", "ACTION", "RULE", "FAULT", "TYPE", "REASON", "MESSAGE"]
    assert lines[1].split()[:3] == ["2", "replace", "xid-79"]
    assert lines[-1] == "1 replace, 1 reboot, 1 event, 1 warning"


def test_stdin_and_a_log_without_faults() -> None:
    result = classify("-", stdin="6,1,100,-;Linux version 6.1.0\n")
    assert result.exit_code == 0
    assert result.output == "no line matched\n\n0 matched\n"
    assert json.loads(classify("-", "--json", stdin=LOG).output)[0]["rule"] == "xid-79"


def test_extra_rules_override_and_add(tmp_path: Path) -> None:
    extra = tmp_path / "rules.yaml"
    extra.write_text("source: kmsg\nrules:\n  - id: xid-13\n    action: none\n"
                     "  - id: linux-version\n    description: The kernel's banner.\n"
                     "    match: 'Linux version (?P<version>\\S+)'\n    faultType: KernelInfo\n"
                     "    reason: Booted\n    action: event\n")
    entries = json.loads(classify(str(log_file(tmp_path)), "--json", "--rules", str(extra)).output)
    actions = {e["rule"]: e["action"] for e in entries}
    assert actions["xid-13"] == "none" and actions["linux-version"] == "event"


def test_a_bad_rules_file_exits_with_usage_and_names_the_rule(tmp_path: Path) -> None:
    extra = tmp_path / "bad.yaml"
    extra.write_text("source: kmsg\nrules:\n  - id: xid-13\n    action: explode\n")
    result = classify(str(log_file(tmp_path)), "--rules", str(extra))
    assert result.exit_code == ExitCode.USAGE
    assert f"bad rules: {extra}: rule 0 (xid-13): action" in result.output


def test_an_unreadable_file_exits_with_usage(tmp_path: Path) -> None:
    result = classify(str(tmp_path / "missing.log"))
    assert result.exit_code == ExitCode.USAGE
    assert "cannot read" in result.output and "missing.log" in result.output
    folder = classify(str(tmp_path))
    assert folder.exit_code == ExitCode.USAGE


def test_the_installed_command_reads_a_binary_log(tmp_path: Path) -> None:
    path = tmp_path / "kmsg.bin"
    path.write_bytes(LOG.encode() + b"\xff\xfe\x00 garbage\n")
    command = Path(sys.executable).with_name("hyperpod-deps")
    done = subprocess.run([str(command), "health", "classify", str(path), "--json", "--all"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    assert len(entries) == 6 and entries[5]["action"] == "none"
    assert [e["action"] for e in entries[:5]] == ["none", "replace", "warning", "event", "reboot"]
