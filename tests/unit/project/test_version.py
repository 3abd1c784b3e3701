"""One version: pyproject.toml's. The package, the chart and the image tag all carry it, so a
release bump edits these lines and nothing else."""
from __future__ import annotations

import tomllib

import yaml

from hyperpod_deps import __version__
from tests.support.charts import CHART, ROOT


def test_the_package_and_the_chart_carry_pyprojects_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert __version__ == version
    assert chart["version"] == version, "helm package takes the chart's version: keep it the package's"
    assert chart["appVersion"] == version, "the agents image tag defaults to appVersion"
