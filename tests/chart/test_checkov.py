"""checkov on the rendered chart: zero failures beyond the documented skips.

Each skip in checkov-skips.yaml carries its reason; a skip that no longer
matches any failure is reported too, so the list cannot rot.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import render_scenario
from tests.support.charts import CHART

SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")
SCANNED_SCENARIOS = ["00-defaults", "01-all-on"]


def checkov_binary() -> str:
    found = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not found or not Path(found).exists():
        pytest.fail("checkov is not installed: run the tests through `make test`")
    return found


def documented_skips() -> dict[str, str]:
    skips: dict[str, str] = yaml.safe_load(SKIPS_FILE.read_text())
    return skips


@pytest.fixture(scope="module")
def checkov_failures(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    folder = tmp_path_factory.mktemp("renders")
    for scenario in SCANNED_SCENARIOS:
        objects = render_scenario(CHART / "ci" / f"{scenario}-values.yaml")
        (folder / f"{scenario}.yaml").write_text(yaml.safe_dump_all(objects))
    result = subprocess.run(
        [checkov_binary(), "--directory", str(folder), "--framework", "kubernetes",
         "--skip-download", "--output", "json", "--quiet"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    reports = report if isinstance(report, list) else [report]
    return [
        {"id": check["check_id"], "resource": check["resource"], "name": check["check_name"]}
        for entry in reports
        for check in entry.get("results", {}).get("failed_checks", [])
    ]


def test_every_skip_has_a_reason() -> None:
    for check_id, reason in documented_skips().items():
        assert check_id.startswith("CKV"), check_id
        assert isinstance(reason, str) and len(reason) > 30, f"{check_id} needs a real reason"


def test_no_undocumented_checkov_failure(checkov_failures: list[dict[str, str]]) -> None:
    skips = documented_skips()
    unexplained = [f for f in checkov_failures if f["id"] not in skips]
    assert not unexplained, "\n".join(f"{f['id']} {f['resource']}: {f['name']}" for f in unexplained)


def test_every_documented_skip_is_still_needed(checkov_failures: list[dict[str, str]]) -> None:
    failing = {f["id"] for f in checkov_failures}
    stale = sorted(set(documented_skips()) - failing)
    assert not stale, f"these skips no longer match a failure; remove them: {stale}"
