"""Chart-test fixtures: each scenario rendered once per test run and shared."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import Renderer


@cache
def render_scenario(scenario: Path, helm_major: int = 3) -> tuple[Manifest, ...]:
    return tuple(Renderer(helm_path(helm_major))(values_files=[scenario]))


@pytest.fixture(scope="session")
def default_render() -> tuple[Manifest, ...]:
    return tuple(Renderer(helm_path(3))())
