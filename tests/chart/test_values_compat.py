"""`helm upgrade --reuse-values` across our own versions: a key any earlier
version of the chart had must still be accepted, or the release's stored values
would fail the strict schema on the next upgrade.

Each earlier version's full defaults (the umbrella's values.yaml with every
subchart's values.yaml under its key) are rendered with today's chart. Needs
the repository's history (a full clone), like the upgrade e2e test.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.charts import CHART, ROOT, Renderer

CHART_PATH = CHART.relative_to(ROOT).as_posix()
# The first commit with every component; earlier ones were never a usable chart.
FIRST_COMPLETE_CHART_COMMIT = "40df739fd0c4d340abafdfa28e023930e6895943"


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout


def values_commits() -> list[str]:
    """Every commit since the first complete chart that changed a values.yaml."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{FIRST_COMPLETE_CHART_COMMIT}^{{commit}}"],
                           capture_output=True, check=False)
    if found.returncode != 0:
        return []
    log = git("log", "--format=%H", f"{FIRST_COMPLETE_CHART_COMMIT}^..HEAD", "--",
              f"{CHART_PATH}/values.yaml", f"{CHART_PATH}/charts/*/values.yaml")
    return log.split()


def defaults_at(commit: str) -> dict[str, Any]:
    """The chart's complete default values as of `commit`, as one values file."""
    values: dict[str, Any] = yaml.safe_load(git("show", f"{commit}:{CHART_PATH}/values.yaml")) or {}
    chart = yaml.safe_load(git("show", f"{commit}:{CHART_PATH}/Chart.yaml"))
    for dependency in chart.get("dependencies", []):
        name = dependency["name"]
        if name == "hyperpod-common":  # the library: no values of its own
            continue
        sub = yaml.safe_load(git("show", f"{commit}:{CHART_PATH}/charts/{name}/values.yaml")) or {}
        key = dependency.get("alias", name)
        merged = dict(sub)
        merged.update(values.get(key) or {})
        values[key] = merged
    return values


COMMITS = values_commits()


@pytest.mark.skipif(not COMMITS, reason="no history: clone without --depth to run this test")
@pytest.mark.parametrize("commit", COMMITS, ids=[c[:8] for c in COMMITS])
def test_an_earlier_versions_values_still_render(render3: Renderer, commit: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(defaults_at(commit)))
    assert render3(values_files=[values])
