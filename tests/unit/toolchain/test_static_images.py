"""Single-binary images for the real nodes: the binary at the path the chart's pods expect, the
entrypoint and user of the upstream image, the same bytes from the same binary; and every image
the chart's default install names on a real node is one the cluster's registry can serve."""
from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from hyperpod_deps.localcluster import served_images
from hyperpod_deps.toolchain import oci, static_images
from hyperpod_deps.toolchain.static_images import StaticImage, StaticImageError
from tests.support.charts import Renderer


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERPOD_DEPS_CACHE", str(tmp_path / "cache"))


def _binary(tmp_path: Path) -> Path:
    binary = tmp_path / "manager-build"
    binary.write_bytes(b"\x7fELF not really, but bytes that must arrive unchanged")
    binary.chmod(0o755)
    return binary


@pytest.mark.usefixtures("own_cache")
def test_the_binary_lies_where_the_entrypoint_says_and_the_user_is_not_root(tmp_path: Path) -> None:
    image = StaticImage("docker.io/example/operator:v1", _binary(tmp_path), "opt/operator", "make it",
                        env=("CONTROLLER_VERSION=v2",))
    archive = static_images.ensure(image)
    layout = tmp_path / "layout"
    with tarfile.open(archive) as packed:
        packed.extractall(layout, filter="data")
    config = oci.unpack(layout, tmp_path / "rootfs")
    assert (tmp_path / "rootfs" / "opt" / "operator").read_bytes() == image.binary.read_bytes()
    assert config["config"]["Entrypoint"] == ["/opt/operator"]
    assert config["config"]["User"] == static_images.NONROOT
    assert config["config"]["Env"] == ["CONTROLLER_VERSION=v2"]
    (named,) = oci.read_index(layout)
    assert named.annotations[oci.CONTAINERD_NAME] == "docker.io/example/operator:v1"


@pytest.mark.usefixtures("own_cache")
def test_the_same_binary_gives_the_same_archive(tmp_path: Path) -> None:
    image = StaticImage("registry.k8s.io/pause:3.10", _binary(tmp_path), "pause/catatonit", "x", ("-P",))
    first = static_images.ensure(image).read_bytes()
    static_images.ensure(image).unlink()
    assert static_images.ensure(image).read_bytes() == first


@pytest.mark.usefixtures("own_cache")
def test_a_missing_binary_says_how_to_get_it(tmp_path: Path) -> None:
    image = StaticImage("docker.io/example/operator:v1", tmp_path / "absent", "manager", "make operators")
    with pytest.raises(StaticImageError, match="make operators"):
        static_images.ensure(image)


def _default_images(render: Renderer, platform: str) -> set[str]:
    images = set()
    for document in render(f"global.platform={platform}"):
        if document.get("kind") in ("Deployment", "DaemonSet"):
            spec = document["spec"]["template"]["spec"]
            images |= {c["image"] for c in spec.get("containers", []) + spec.get("initContainers", [])}
    return images


def test_the_registry_serves_every_image_the_default_install_runs_on_a_real_node(render: Renderer) -> None:
    """What a real node can get is exactly what the chart names for the pods that go there; the
    device plugins' images stay unserved, and their pods stay on simulated nodes."""
    served = {image.name for image in served_images.images()} - {static_images.PAUSE.name}
    chart = _default_images(render, "generic")
    assert served <= chart, served - chart
    assert {name for name in chart if "device-plugin" not in name} == served
