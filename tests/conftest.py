"""Shared fixtures: the real helm binaries (Helm 3 and Helm 4) and renderers."""
from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.toolchain.helm import HELM_RELEASES, helm_path
from tests.support.charts import Renderer

HELM_MAJORS = sorted(HELM_RELEASES)


@pytest.fixture(scope="session", params=HELM_MAJORS, ids=[f"helm{m}" for m in HELM_MAJORS])
def helm(request: pytest.FixtureRequest) -> Path:
    """Each test that takes `helm` runs once per supported Helm major version."""
    return helm_path(request.param)


@pytest.fixture(scope="session")
def helm3() -> Path:
    return helm_path(3)


@pytest.fixture(scope="session")
def render(helm: Path) -> Renderer:
    """Render with every supported helm in turn."""
    return Renderer(helm)


@pytest.fixture(scope="session")
def render3(helm3: Path) -> Renderer:
    """Render with Helm 3 only, for tests whose subject is not helm-version dependent."""
    return Renderer(helm3)
