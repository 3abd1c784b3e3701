"""`hyperpod-deps health agent` refuses bad settings and bad rules at once, before it waits for
any API server, with exit code 2 and a JSON log line naming the file and the key."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperpod_deps.cli.main import cli


def run(tmp_path: Path, config: str, rules: str | None = None) -> tuple[int, dict[str, object]]:
    path = tmp_path / "config.yaml"
    if rules is not None:
        (tmp_path / "rules.yaml").write_text(rules)
        config += f"\nextraRuleFiles: [{tmp_path / 'rules.yaml'}]"
    path.write_text(config)
    result = CliRunner().invoke(cli, ["health", "agent", "--config", str(path)], env={"NODE_NAME": "n"})
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_a_misspelt_setting_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    code, line = run(tmp_path, "writer: {debounceSecond: 1}")
    assert code == 2
    assert line["level"] == "error"
    assert f"{tmp_path / 'config.yaml'}: writer.debounceSecond: unknown key" == line["msg"]


@pytest.mark.parametrize(("rules", "complaint"), [
    ("source: kmsg\nrules:\n  - id: xid-79\n    action: ignore\n", "xid-79"),
    ("source: syslog\n", "source must be one of"),
])
def test_a_bad_rule_document_exits_2(tmp_path: Path, rules: str, complaint: str) -> None:
    code, line = run(tmp_path, "platform: generic", rules)
    assert code == 2
    assert str(line["msg"]).startswith("bad rules: ")
    assert complaint in str(line["msg"])
