"""checkov on the rendered chart: zero failures beyond the documented skips.

Each entry of checkov-skips.yaml carries its reason and the exact objects it
covers; a finding on any other object fails, and so does an entry that no
longer matches a finding, so the list cannot rot.
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
SCANNED_SCENARIOS = ["00-defaults", "01-all-on", "04-generic-platform", "35-open-health-agent"]

Finding = tuple[str, str]  # (check id, "Kind/name")


def checkov_binary() -> str:
    found = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not found or not Path(found).exists():
        pytest.fail("checkov is not installed: run the tests through `make test`")
    return found


def documented_skips() -> dict[str, dict[str, object]]:
    skips: dict[str, dict[str, object]] = yaml.safe_load(SKIPS_FILE.read_text())
    return skips


def accepted() -> set[Finding]:
    return {
        (check_id, str(obj))
        for check_id, entry in documented_skips().items()
        for obj in entry["objects"]  # type: ignore[attr-defined]
    }


def object_of(resource: str) -> str:
    """checkov names a resource Kind.namespace.name[.labels...]; our names hold no dots."""
    kind, _namespace, name = resource.split(".")[:3]
    return f"{kind}/{name}"


@pytest.fixture(scope="module")
def checkov_findings(tmp_path_factory: pytest.TempPathFactory) -> set[Finding]:
    folder = tmp_path_factory.mktemp("renders")
    for scenario in SCANNED_SCENARIOS:
        objects = render_scenario(CHART / "ci" / f"{scenario}-values.yaml")
        (folder / f"{scenario}.yaml").write_text(yaml.safe_dump_all(objects))
    result = subprocess.run(
        [checkov_binary(), "--directory", str(folder), "--framework", "kubernetes",
         "--skip-download", "--output", "json", "--quiet", "--compact"],
        capture_output=True, text=True, check=False,
        # Without it checkov asks PyPI for its latest version (at most hourly): a DNS query and a
        # request off this machine in the middle of the test suite.
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    reports = report if isinstance(report, list) else [report]
    return {
        (check["check_id"], object_of(check["resource"]))
        for entry in reports
        for check in entry.get("results", {}).get("failed_checks", [])
    }


def test_every_skip_has_a_reason_and_objects() -> None:
    for check_id, entry in documented_skips().items():
        assert check_id.startswith("CKV"), check_id
        assert len(str(entry["reason"])) > 60, f"{check_id} needs a real reason"
        assert entry["objects"], f"{check_id} names no object"


def test_no_unexplained_checkov_failure(checkov_findings: set[Finding]) -> None:
    unexplained = sorted(checkov_findings - accepted())
    assert not unexplained, "\n".join(f"{check} {obj}" for check, obj in unexplained)


def test_every_documented_skip_is_still_needed(checkov_findings: set[Finding]) -> None:
    stale = sorted(accepted() - checkov_findings)
    assert not stale, f"these skips no longer match a finding; remove them: {stale}"
