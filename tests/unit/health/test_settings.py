"""The agent's settings file: the chart's keys, typos named with the file and key."""
from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.core.settings import SettingsError
from hyperpod_deps.health.settings import DEFAULT_STATE_DIR, load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_need_only_the_node_name() -> None:
    settings = load(None, {"NODE_NAME": "node-a"})
    assert settings.node_name == "node-a"
    assert settings.platform == "hyperpod"
    assert settings.sources.kmsg.enabled and settings.sources.log_files.paths == ()
    assert settings.state_dir == DEFAULT_STATE_DIR


def test_camel_case_keys_as_the_chart_writes_them(tmp_path: Path) -> None:
    path = write(tmp_path, """
platform: generic
sources:
  kmsg: {enabled: false}
  logFiles: {paths: [/var/log/kern.log], pollIntervalSeconds: 0.05}
  nvml: {enabled: false, intervalSeconds: 10}
writer: {debounceSeconds: 1, reassertIntervalSeconds: 30}
dedupeWindowSeconds: 120
recoveryDelaySeconds: 5
metricsPort: 0
extraRuleFiles: [/etc/hyperpod-deps/health/rules/site.yaml]
stateDir: /tmp/state
""")
    settings = load(path, {"NODE_NAME": "n"})
    assert settings.platform == "generic"
    assert not settings.sources.kmsg.enabled
    assert settings.sources.log_files.paths == (Path("/var/log/kern.log"),)
    assert settings.sources.log_files.poll_interval_seconds == 0.05
    assert settings.sources.nvml.interval_seconds == 10
    assert settings.writer.reassert_interval_seconds == 30
    assert settings.metrics_port == 0
    assert settings.extra_rule_files == (Path("/etc/hyperpod-deps/health/rules/site.yaml"),)


@pytest.mark.parametrize(("text", "complaint"), [
    ("sources: {logFiles: {pollIntervalSecond: 1}}", "sources.logFiles.pollIntervalSecond: unknown key"),
    ("platform: eks", "platform: Invalid enum value 'eks'; expected one of: hyperpod, generic"),
    ("writer: {debounceSeconds: -1}", "writer.debounceSeconds: Expected `float` >= 0"),
    ("metricsPort: http", "metricsPort: Expected `int`, got `str`"),
    ("- a list", "expected a mapping of settings, not list"),
    ("key: [unclosed", "cannot read the agent's settings"),
])
def test_a_wrong_key_or_value_names_the_file_and_the_key(tmp_path: Path, text: str, complaint: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as error:
        load(path, {"NODE_NAME": "n"})
    assert str(error.value).startswith(f"{path}: ")
    assert complaint in str(error.value)


def test_the_file_wins_over_the_environment_for_the_node_name(tmp_path: Path) -> None:
    assert load(write(tmp_path, "nodeName: from-file"), {"NODE_NAME": "env"}).node_name == "from-file"


def test_no_node_name_anywhere_is_refused() -> None:
    with pytest.raises(SettingsError, match="no node name: set NODE_NAME"):
        load(None, {})


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load(tmp_path / "absent.yaml", {"NODE_NAME": "n"})
