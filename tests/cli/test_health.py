"""hyperpod-deps health classify, through click and as the installed command."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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
                          "reason": None, "action": "none", "origin": "kernel", "note": None}


def test_human_table_and_summary_per_action(tmp_path: Path) -> None:
    result = classify(str(log_file(tmp_path)))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["LINE", "ACTION", "ORIGIN", "RULE", "FAULT", "TYPE", "REASON", "MESSAGE"]
    assert lines[1].split()[:4] == ["2", "replace", "kernel", "xid-79"]
    assert lines[2].split()[:4] == ["3", "warning", "claimed-kernel", "hung-task"]
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


XID = "NVRM: Xid (PCI:0000:2b:00): 79, GPU has fallen off the bus."


def test_a_user_written_xid_shows_none_and_why(tmp_path: Path) -> None:
    # `logger "NVRM: Xid ..."` in /var/log/messages: logger's default tag is the user's name.
    path = log_file(tmp_path, f"May 18 19:02:39 node ec2-user: {XID}\nMay 18 19:02:39 kernel: {XID}\n")
    entries = json.loads(classify(str(path), "--json").output)
    assert [(e["rule"], e["action"], e["origin"], e["note"]) for e in entries] == [
        ("xid-79", "none", "userspace", "not written by the kernel"),
        ("xid-79", "replace", "claimed-kernel", None)]
    human = classify(str(path)).output.splitlines()
    assert human[1].split()[:4] == ["1", "none", "userspace", "xid-79"]
    assert human[-2] == "1 replace, 1 none"
    assert human[-1].startswith("1 matched but not written by the kernel") and human[-1].endswith("line 1")


def test_gzip_and_utf16_are_read(tmp_path: Path) -> None:
    packed = tmp_path / "kern.log.gz"
    packed.write_bytes(gzip.compress(LOG.encode()))
    renamed = tmp_path / "kern.log.1"  # rotated logs keep their gzip bytes under any name
    renamed.write_bytes(gzip.compress(LOG.encode()))
    wide = tmp_path / "kern-utf16.log"
    wide.write_text(LOG, encoding="utf-16")
    for path in (packed, renamed, wide):
        result = classify(str(path), "--json")
        assert result.exit_code == 0, result.output
        assert [e["rule"] for e in json.loads(result.output)] == ["xid-79", "hung-task", "xid-13", "xid-154"]


def test_cr_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "cr.log"
    path.write_bytes(LOG.replace("\n", "\r").encode())
    assert [e["line"] for e in json.loads(classify(str(path), "--json").output)] == [2, 3, 4, 5]


@pytest.mark.parametrize("content", [b"\x00" * 10000, bytes(range(256)) * 40])
def test_a_binary_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "core"
    path.write_bytes(content)
    result = classify(str(path))
    assert result.exit_code == ExitCode.USAGE
    assert result.output == f"error: {path} is not a text log (binary data: NUL or control bytes); give a " \
                            "kernel log, plain or gzip\n"


def test_dev_zero_is_refused_at_once() -> None:
    result = classify("/dev/zero")
    assert result.exit_code == ExitCode.USAGE and "not a text log" in result.output


def test_a_directory_and_an_unreadable_file_are_one_line_errors(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = classify(str(tmp_path))
    assert folder.exit_code == ExitCode.USAGE
    assert folder.output == f"error: cannot read {tmp_path}: it is a directory\n"
    locked = log_file(tmp_path)

    opener = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return opener(self, *args, **kwargs)
    monkeypatch.setattr(Path, "open", refuse)  # root reads any file, so the refusal is simulated
    denied = classify(str(locked))
    assert denied.exit_code == ExitCode.USAGE
    assert denied.output == f"error: cannot read {locked}: permission denied\n"


@pytest.mark.parametrize(("redirect", "message"), [
    ("<&-", "error: cannot read standard input: it is closed"),
    ("0>/dev/null", "error: cannot read standard input: Bad file descriptor"),
])
def test_a_closed_or_unreadable_stdin_is_a_one_line_error(redirect: str, message: str) -> None:
    command = Path(sys.executable).with_name("hyperpod-deps")
    done = subprocess.run(f"'{command}' health classify - {redirect}", shell=True, capture_output=True,
                          text=True, timeout=120, check=False)
    assert (done.returncode, done.stderr.strip(), done.stdout) == (ExitCode.USAGE, message, "")


def test_a_huge_line_is_cut_and_the_next_lines_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "long.log"
    with path.open("wb") as out:
        out.write(b"3,1,1,-;" + b"x" * (8 * 1024 * 1024) + b" " + XID.encode() + b"\n")
        out.write(f"3,2,2,-;{XID}\n".encode())
    entries = json.loads(classify(str(path), "--json", "--all").output)
    assert [(e["line"], e["rule"]) for e in entries] == [(1, None), (2, "xid-79")]
    assert len(entries[0]["text"]) < 64 * 1024


def test_terminal_escapes_are_shown_not_sent(tmp_path: Path) -> None:
    path = log_file(tmp_path, f"3,1,1,-;{XID} \x1b[2A hidden\n")
    assert "\x1b" not in classify(str(path)).output and "\\u001b[2A" in classify(str(path)).output
