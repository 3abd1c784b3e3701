"""The images the local cluster's registry serves to its real nodes: the ones this project
builds, under the repository and tag the chart's default image names ask for (the registry
stands in for each upstream registry; realnode.MIRRORED_REGISTRIES)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.localcluster.realnode import PAUSE_IMAGE
from hyperpod_deps.toolchain import agents_image, image_push, pause_image
from hyperpod_deps.toolchain.gobuild import Progress


@dataclass(frozen=True)
class ServedImage:
    name: str  # as pods and the kubelet ask for it
    archive: Path
    how_to_build: str

    @property
    def repository(self) -> str:
        return self.name.split("/", 1)[1].rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.name.rsplit(":", 1)[1]


def images() -> tuple[ServedImage, ...]:
    return (
        ServedImage(PAUSE_IMAGE, pause_image.archive_path(), "made from catatonit at `cluster up`"),
        ServedImage(agents_image.image_name(), agents_image.archive_path(), "make image"),
    )


def serve(registry: str, progress: Progress) -> list[str]:
    """Push every built image to the cluster's registry; the names of those not built (pods
    that use them wait in ImagePullBackOff, and the progress line says how to build them)."""
    pause_image.ensure(PAUSE_IMAGE)
    missing = []
    for image in images():
        if not image.archive.is_file():
            progress(f"not served: {image.name} is not built ({image.how_to_build})")
            missing.append(image.name)
            continue
        pushed = image_push.push(image.archive, registry, tag=image.tag, repository=image.repository)
        progress(f"serving {image.name} as {pushed.reference} ({pushed.digest})")
    return missing
