"""The release workflow (`make check` runs actionlint on it): what it must do for a tag, read
from the file, so that a change that drops a step fails here and not on the next release."""
from __future__ import annotations

from typing import Any

import yaml

from hyperpod_deps.toolchain.agents_image import REPOSITORY
from tests.support.charts import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    found: list[dict[str, Any]] = job["steps"]
    return found


def script() -> str:
    return "\n".join(step.get("run", "") for step in steps())


def test_it_runs_on_version_tags_with_the_least_it_needs() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["push"] == {"tags": ["v*"]}  # YAML 1.1 reads the key `on` as true
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "packages": "write"}


def test_actions_are_pinned_by_commit() -> None:
    for step in steps():
        if "uses" in step:
            ref = step["uses"].split("@", 1)[1]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step["uses"]


def test_it_checks_the_tag_builds_locked_tests_then_publishes() -> None:
    text = script()
    order = [text.index(marker) for marker in (
        '"v${version}"', "agents_image --locked", "make test", "images push ghcr.io",
        'push "dist/hyperpod-helm-chart-${VERSION}.tgz" oci://ghcr.io/hyperpod-deps/charts')]
    assert order == sorted(order)
    assert REPOSITORY.startswith("hyperpod-deps/"), "ghcr.io + the repository is the chart's default image"
