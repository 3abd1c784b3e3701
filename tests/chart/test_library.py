"""The hyperpod-common library: labels, images and instance types, through the umbrella."""
from __future__ import annotations

import pytest

from hyperpod_deps.chart.render import RenderError, RenderRequest, render
from hyperpod_deps.core.kubernetes_facts import RECOMMENDED_LABELS
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART, Renderer, named, pod_spec


def test_every_object_carries_the_recommended_labels(render3: Renderer) -> None:
    for obj in render3(values_files=[CHART / "ci/01-all-on-values.yaml"]):
        labels = obj["metadata"].get("labels", {})
        missing = [label for label in RECOMMENDED_LABELS if label not in labels]
        assert not missing, (obj["kind"], obj["metadata"]["name"], missing)
        assert labels["app.kubernetes.io/part-of"] == "hyperpod-deps"


# Labels that never change between versions, so they are safe in immutable selectors.
# hyperpod-deps/accelerator tells the health agent's NVIDIA and Neuron DaemonSets apart.
STABLE_SELECTOR_LABELS = {
    "app.kubernetes.io/name", "app.kubernetes.io/instance", "hyperpod-deps/accelerator",
    # Upstream's fixed selector labels, kept so that upgrading from it works in place.
    "control-plane", "app", "app.kubernetes.io/component", "kustomize.component", "name",
}


def test_selectors_use_only_stable_labels(render3: Renderer) -> None:
    for obj in render3():
        selector = (obj.get("spec") or {}).get("selector") or {}
        match = selector.get("matchLabels") if isinstance(selector, dict) else None
        if match:
            assert set(match) <= STABLE_SELECTOR_LABELS, obj["kind"]
            assert "app.kubernetes.io/version" not in match


def test_digest_wins_over_tag(render3: Renderer) -> None:
    objects = render3("mpi-operator.image.digest=sha256:" + "a" * 64)
    (container,) = pod_spec(named(objects, "Deployment", "dependencies-mpi-operator"))["containers"]
    assert container["image"] == "docker.io/mpioperator/mpi-operator@sha256:" + "a" * 64


def test_an_image_without_repository_fails_even_without_the_schema() -> None:
    # The schemas refuse an empty repository; the library still guards its own callers.
    request = RenderRequest(
        chart=CHART,
        set_values=("mpi-operator.image.repository=",),
        extra_args=("--skip-schema-validation",),
    )
    with pytest.raises(RenderError, match="an image block is missing its repository"):
        render(helm_path(3), request)
