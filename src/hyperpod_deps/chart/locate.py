"""Finding the umbrella chart on disk."""
from __future__ import annotations

from pathlib import Path

CHART_RELATIVE = Path("helm_chart/HyperPodHelmChart")
# The repository root of a source checkout (src/hyperpod_deps/chart/locate.py -> root).
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def default_chart() -> Path:
    """The chart in the current directory's checkout if there is one, else the source tree's."""
    here = Path.cwd() / CHART_RELATIVE
    if (here / "Chart.yaml").is_file():
        return here
    return SOURCE_ROOT / CHART_RELATIVE
