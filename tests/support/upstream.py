"""The upstream HyperPod chart, as the contract our chart is compared with.

The reference lives beside the checkout (`../shared/upstream/hyperpod-helm-chart`,
its PROVENANCE.md says what it is); HYPERPOD_UPSTREAM_CHART points elsewhere.
It is data for tests, never part of the project.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hyperpod_deps.chart.render import Manifest
from tests.support.charts import ROOT

UPSTREAM_CHART = Path(
    os.environ.get("HYPERPOD_UPSTREAM_CHART", ROOT.parent / "shared/upstream/hyperpod-helm-chart")
)
UPSTREAM_VALUES = UPSTREAM_CHART / "values.yaml"

CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "PersistentVolume",
    "PriorityClass", "StorageClass",
})

requires_upstream = pytest.mark.skipif(
    not (UPSTREAM_CHART / "Chart.yaml").is_file(),
    reason=f"the upstream reference chart is not at {UPSTREAM_CHART} (set HYPERPOD_UPSTREAM_CHART)",
)


def identity(obj: Manifest, release_namespace: str = "kube-system") -> tuple[str, str, str]:
    """(kind, namespace, name) as the API server stores it: a namespaced object
    rendered without a namespace lands in the release's, and a namespace written
    on a cluster-scoped object means nothing."""
    kind = obj["kind"]
    namespace = "" if kind in CLUSTER_SCOPED else obj["metadata"].get("namespace") or release_namespace
    return kind, namespace, obj["metadata"]["name"]


def by_identity(objects: list[Manifest]) -> dict[tuple[str, str, str], Manifest]:
    return {identity(obj): obj for obj in objects}
