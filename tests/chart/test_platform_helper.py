"""global.platform is read in one place, hyperpod-common's `platform` helper: every template that
decides by platform asks it, so the default ("hyperpod") is written once."""
from __future__ import annotations

import re
from pathlib import Path

CHART = Path(__file__).resolve().parents[2] / "helm_chart" / "HyperPodHelmChart"
HELPER = CHART / "charts" / "hyperpod-common" / "templates" / "_names.tpl"
# A read of the value: not the helper's own name, not "global.platform=x" in a message.
READS_PLATFORM = re.compile(r"(?<!hyperpod-common)\.platform\b(?!=)")


def _templates() -> list[Path]:
    return sorted(p for p in CHART.glob("**/templates/*") if p.suffix in (".yaml", ".tpl", ".txt"))


def test_only_the_helper_reads_global_platform() -> None:
    readers = []
    for path in _templates():
        for action in re.findall(r"\{\{.*?\}\}", path.read_text(), flags=re.DOTALL):
            if READS_PLATFORM.search(action) and not action.lstrip("{- ").startswith("/*"):
                readers.append(path.relative_to(CHART).as_posix())
    assert readers == [HELPER.relative_to(CHART).as_posix()]


def test_the_templates_that_decide_by_platform_use_the_helper() -> None:
    users = {p.relative_to(CHART).as_posix() for p in _templates()
             if 'include "hyperpod-common.platform"' in p.read_text()}
    assert {"templates/namespaces.yaml", "templates/NOTES.txt",
            "charts/job-auto-restart/templates/_helpers.tpl",
            "charts/health-monitoring-agent/templates/_helpers.tpl",
            "charts/deep-health-check/templates/_helpers.tpl"} <= users
