"""A snapshot of the default render: any change to what a default install
creates shows up as a reviewed diff. Refresh with UPDATE_SNAPSHOTS=1 pytest."""
from __future__ import annotations

import os
from pathlib import Path

from hyperpod_deps.chart.render import RenderRequest, render_text
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART

SNAPSHOT = Path(__file__).with_name("snapshots") / "default-render.yaml"


def test_default_render_matches_the_snapshot() -> None:
    rendered = render_text(helm_path(3), RenderRequest(chart=CHART))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.exists(), "no snapshot yet: run UPDATE_SNAPSHOTS=1 pytest tests/chart/test_snapshot.py"
    assert rendered == SNAPSHOT.read_text(), (
        "the default render changed; review `git diff` after UPDATE_SNAPSHOTS=1"
    )
