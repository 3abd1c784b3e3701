"""The upstream HyperPod chart, as the contract our chart is compared with.

The reference lives beside the checkout (`../shared/upstream/hyperpod-helm-chart`,
its PROVENANCE.md says what it is); HYPERPOD_UPSTREAM_CHART points elsewhere.
It is data for tests, never part of the project.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import pytest

from hyperpod_deps.core.kubernetes_facts import CLUSTER_SCOPED_KINDS
from hyperpod_deps.core.manifest import Manifest
from tests.support.charts import ROOT

UPSTREAM_CHART = Path(
    os.environ.get("HYPERPOD_UPSTREAM_CHART", ROOT.parent / "shared/upstream/hyperpod-helm-chart")
)
UPSTREAM_VALUES = UPSTREAM_CHART / "values.yaml"

# Upstream ships its health agent twice: the folder charts/health-monitoring-agent/ and a stale
# charts/health-monitoring-agent-0.1.0.tgz of an older version, and Helm loads whichever it
# meets last, which differs from run to run. A test that rendered the chart as it is would
# change verdict between runs, so tests use one copy with each: "folder" (the tgz left out)
# and "tgz" (the folder left out). Users get either; both are compared.
Variant = Literal["folder", "tgz"]
VARIANTS: tuple[Variant, ...] = ("folder", "tgz")
_LEFT_OUT: dict[Variant, str] = {"folder": "health-monitoring-agent-0.1.0.tgz",
                                  "tgz": "health-monitoring-agent"}
_COPIES: dict[Variant, Path] = {}


def upstream_chart(variant: Variant) -> Path:
    """A copy of the upstream chart that loads only one of its two health agents."""
    if variant not in _COPIES:
        into = Path(tempfile.mkdtemp(prefix=f"upstream-{variant}-")) / "hyperpod-helm-chart"
        charts = UPSTREAM_CHART / "charts"
        shutil.copytree(UPSTREAM_CHART, into, ignore=lambda folder, names: [
            name for name in names if Path(folder) == charts and name == _LEFT_OUT[variant]])
        for path in [into, *into.rglob("*")]:  # the reference is read-only; the copy need not be
            path.chmod(path.stat().st_mode | 0o200)
        _COPIES[variant] = into
    return _COPIES[variant]



requires_upstream = pytest.mark.skipif(
    not (UPSTREAM_CHART / "Chart.yaml").is_file(),
    reason=f"the upstream reference chart is not at {UPSTREAM_CHART} (set HYPERPOD_UPSTREAM_CHART)",
)


def identity(obj: Manifest, release_namespace: str = "kube-system") -> tuple[str, str, str]:
    """(kind, namespace, name) as the API server stores it: a namespaced object
    rendered without a namespace lands in the release's, and a namespace written
    on a cluster-scoped object means nothing."""
    kind = obj["kind"]
    namespace = "" if kind in CLUSTER_SCOPED_KINDS else obj["metadata"].get("namespace") or release_namespace
    return kind, namespace, obj["metadata"]["name"]


def by_identity(objects: list[Manifest]) -> dict[tuple[str, str, str], Manifest]:
    return {identity(obj): obj for obj in objects}
