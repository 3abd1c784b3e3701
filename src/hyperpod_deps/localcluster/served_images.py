"""The images the local cluster's registry serves to its real nodes: the ones this project
builds, under the repository and tag the chart's default image names ask for (the registry
stands in for each upstream registry; realnode.MIRRORED_REGISTRIES)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.toolchain import agents_image, image_push, static_images
from hyperpod_deps.toolchain.gobuild import Progress


@dataclass(frozen=True)
class ServedImage:
    name: str  # as pods and the kubelet ask for it
    archive: Path | None  # None: cannot be made (its binary is missing)
    how_to_build: str

    @property
    def repository(self) -> str:
        return self.name.split("/", 1)[1].rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.name.rsplit(":", 1)[1]


def images() -> tuple[ServedImage, ...]:
    """Every image a real node can get, the static ones made on the way."""
    found = [ServedImage(agents_image.image_name(), agents_image.archive_path(), "make image")]
    for image in (static_images.PAUSE, *static_images.operator_images()):
        try:
            found.append(ServedImage(image.name, static_images.ensure(image), image.how_to_get))
        except static_images.StaticImageError:
            found.append(ServedImage(image.name, None, image.how_to_get))
    return tuple(found)


def serve(registry: str, progress: Progress) -> list[str]:
    """Push every built image to the cluster's registry; the names of those not built (pods
    that use them wait in ImagePullBackOff, and the progress line says how to build them)."""
    missing = []
    for image in images():
        if image.archive is None or not image.archive.is_file():
            progress(f"not served: {image.name} is not built ({image.how_to_build})")
            missing.append(image.name)
            continue
        pushed = image_push.push(image.archive, registry, tag=image.tag, repository=image.repository)
        progress(f"serving {image.name} as {pushed.reference} ({pushed.digest})")
    return missing
