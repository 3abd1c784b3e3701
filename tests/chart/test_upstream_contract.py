"""Our chart against the upstream HyperPod chart it replaces in place.

Both are rendered here, so when the reference is refreshed, any object,
namespace or selector upstream adds or changes shows up as a failing test.
What HyperPod and its users look up is (kind, namespace, name); a workload's
selector is immutable, so it must be upstream's for `helm upgrade` to work.
"""
from __future__ import annotations

import pytest

from hyperpod_deps.core.manifest import Manifest
from tests.support.charts import Renderer
from tests.support.upstream import (
    UPSTREAM_VALUES,
    VARIANTS,
    Variant,
    by_identity,
    requires_upstream,
    upstream_chart,
)

pytestmark = requires_upstream

# Upstream objects ours does not render, each with its reason (docs/upstream.md).
DELIBERATELY_ABSENT: dict[tuple[str, str, str], str] = {
    ("ConfigMap", "aws-hyperpod", "dynamic-system-log-monitor-config"):
        "only from upstream's stale health-agent tgz; nothing mounts or reads it",
    ("ConfigMap", "aws-hyperpod", "health-monitoring-agent-debug"):
        "only from upstream's stale health-agent tgz; restates the region choice, which NOTES say",
    ("DaemonSet", "kube-system", "dependencies-nvidia-device-plugin-mps-control-daemon"):
        "runs only on nodes labelled for MPS sharing, which upstream never configures; privileged",
}

Objects = dict[tuple[str, str, str], Manifest]
WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet")


@pytest.fixture(scope="module", params=VARIANTS)
def upstream(request: pytest.FixtureRequest, render3: Renderer) -> dict[tuple[str, str, str], Manifest]:
    """Upstream's render, once with each of the two health agents it ships (tests/support/upstream.py)."""
    variant: Variant = request.param
    return by_identity(render3(chart=upstream_chart(variant)))


@pytest.fixture(scope="module")
def every_upstream_object(render3: Renderer) -> set[tuple[str, str, str]]:
    return set().union(*(by_identity(render3(chart=upstream_chart(v))) for v in VARIANTS))


@pytest.fixture(scope="module")
def ours(render3: Renderer) -> dict[tuple[str, str, str], Manifest]:
    return by_identity(render3())


def test_every_upstream_object_is_ours_too(upstream: Objects, ours: Objects) -> None:
    missing = sorted(set(upstream) - set(ours) - set(DELIBERATELY_ABSENT))
    assert not missing, f"upstream objects our chart does not render: {missing}"


def test_the_list_of_deliberate_differences_is_current(every_upstream_object: set[tuple[str, str, str]],
                                                       ours: Objects) -> None:
    stale = sorted(key for key in DELIBERATELY_ABSENT if key not in every_upstream_object or key in ours)
    assert not stale, f"no longer a difference (update DELIBERATELY_ABSENT and docs/upstream.md): {stale}"


def test_workloads_in_both_charts_have_upstreams_selector(upstream: Objects, ours: Objects) -> None:
    shared = [key for key in upstream if key[0] in WORKLOADS and key in ours]
    assert shared, "no workload in both charts: the comparison would prove nothing"
    different = {
        key: (upstream[key]["spec"]["selector"], ours[key]["spec"]["selector"])
        for key in shared
        if upstream[key]["spec"]["selector"] != ours[key]["spec"]["selector"]
    }
    assert not different, f"immutable selectors differ (upstream, ours): {different}"


def test_the_namespaces_upstream_creates_are_kept_by_an_uninstall(upstream: Objects, ours: Objects) -> None:
    names = [key for key in upstream if key[0] == "Namespace"]
    assert {key[2] for key in names} >= {"aws-hyperpod", "kubeflow", "mpi-operator"}
    for key in names:
        annotations = ours[key]["metadata"].get("annotations", {})
        assert annotations.get("helm.sh/resource-policy") == "keep", key


def test_upstreams_own_values_file_renders_the_same_objects(render3: Renderer, ours: Objects) -> None:
    with_upstream_values = by_identity(render3(values_files=[UPSTREAM_VALUES]))
    assert set(with_upstream_values) == set(ours)
