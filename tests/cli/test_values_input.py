"""Bad input that helm would take silently is refused, with the file, key or field named."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.main import cli
from hyperpod_deps.toolchain.helm import helm_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--helm", str(helm_path(3))])


# --- a misspelt key under a component that is turned off --------------------------------------


@pytest.mark.parametrize("as_json", [False, True])
def test_lint_checks_the_values_of_a_disabled_component(as_json: bool) -> None:
    # storage is off by default, so helm never validates its values.
    result = run("lint", "--set", "storage.fsx.filesystemId=fs-0123456789abcdef0",
                 *(["--json"] if as_json else []))
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.output
    if as_json:
        report = json.loads(result.output)
        assert report["renderError"] is None
        assert [(u["component"], u["path"]) for u in report["unknownKeys"]] == [("storage", "fsx")]
        assert "filesystemId" in report["unknownKeys"][0]["message"]
    else:
        assert "storage.fsx: Additional properties are not allowed ('filesystemId'" in result.output


def test_lint_reads_a_disabled_components_values_from_a_file(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("mlflow:\n  enabled: false\n  mlfow:\n    image: {}\n")
    result = run("lint", "-f", str(values))
    assert result.exit_code == ExitCode.CHECKS_FAILED, result.output
    assert "mlflow: Additional properties are not allowed ('mlfow'" in result.output


def test_lint_passes_a_correct_key_under_a_disabled_component() -> None:
    result = run("lint", "--set", "storage.fsx.fileSystemId=fs-0123456789abcdef0")
    assert result.exit_code == ExitCode.OK, result.output
    assert "values of every component, on or off: ok" in result.output


# --- values files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kind"),
    [("- storage.enabled=true\n", "a list"), ("storage.enabled=true\n", "a str ('storage.enabled=true')")],
)
def test_a_values_file_must_be_a_mapping(tmp_path: Path, content: str, kind: str) -> None:
    values = tmp_path / "bad-values.yaml"
    values.write_text(content)
    for command in ("render", "lint"):
        result = run(command, "-f", str(values))
        assert result.exit_code == ExitCode.HELM_REFUSED, result.output
        assert f"values file {values} must be a mapping of settings (key: value), not {kind}" in result.output


def test_a_key_written_twice_in_a_values_file_is_refused(tmp_path: Path) -> None:
    values = tmp_path / "twice.yaml"
    values.write_text("storage:\n  enabled: true\nmlflow:\n  enabled: false\nstorage:\n  enabled: false\n")
    result = run("render", "-f", str(values))
    assert result.exit_code == ExitCode.HELM_REFUSED, result.output
    assert f"values file {values}: key 'storage' appears twice (lines 1 and 5)" in result.output


def test_a_nested_key_written_twice_is_refused(tmp_path: Path) -> None:
    values = tmp_path / "nested.yaml"
    values.write_text("computeQuotaTarget:\n  targetId: team-a\n  targetId: team-b\n")
    result = run("render", "-f", str(values))
    assert result.exit_code == ExitCode.HELM_REFUSED
    assert "key 'targetId' appears twice (lines 2 and 3)" in result.output


def test_an_empty_values_file_is_fine(tmp_path: Path) -> None:
    values = tmp_path / "empty.yaml"
    values.write_text("# nothing set\n")
    assert run("render", "-f", str(values)).exit_code == ExitCode.OK


# --- numbers where strings belong, and --set-string --------------------------------------------


def test_a_numeric_team_id_is_refused_with_the_set_string_to_use() -> None:
    result = run("render", "--set", "computeQuotaTarget.targetId=123")
    assert result.exit_code == ExitCode.HELM_REFUSED
    assert "Expected: string, given: integer" in result.output
    assert "use --set-string computeQuotaTarget.targetId=<value>" in result.output


@pytest.mark.parametrize("command", ["render", "lint", "plan", "images"])
def test_set_string_keeps_digits_a_string(command: str) -> None:
    result = run(command, "--set-string", "computeQuotaTarget.targetId=123")
    assert result.exit_code == ExitCode.OK, result.output
    if command == "render":
        assert "name: hyperpod-ns-123" in result.output


def test_set_string_comes_after_set_as_in_helm() -> None:
    result = run("render", "--set", "computeQuotaTarget.targetId=team-a",
                 "--set-string", "computeQuotaTarget.targetId=007")
    assert result.exit_code == ExitCode.OK, result.output
    assert "hyperpod-ns-007" in result.output and "hyperpod-ns-team-a" not in result.output


def test_a_team_id_pattern_failure_is_said_in_words() -> None:
    result = run("render", "--set", "computeQuotaTarget.targetId=Team_A")
    assert result.exit_code == ExitCode.HELM_REFUSED
    assert ("computeQuotaTarget.targetId must be the team id: at most 40 characters of lowercase "
            "letters, digits and '-'") in result.output


def test_lint_says_the_team_id_rule_in_words() -> None:
    result = run("lint", "--json", "--set", "computeQuotaTarget.targetId=Team_A")
    report = json.loads(result.output)
    assert "lowercase letters, digits and '-'" in report["renderError"]
