"""Images of one static binary, built here for the local cluster's real nodes, under the names
the chart (and the kubelet) ask for: no registry serves those images to these machines.

- the sandbox ("pause") image, from Debian's static `catatonit` (in `-P` mode it only holds the
  pod's namespaces and reaps, which is all a sandbox does);
- the Kubeflow training operator and MPI operator, from their Go builds (toolchain/kubeflow.py),
  at the paths and with the entrypoints of their upstream images (facts from their Dockerfiles:
  `/manager`; `/opt/mpi-operator` with CONTROLLER_VERSION=v2), so the chart's args work unchanged.

An archive is rebuilt when its binary is newer; the same binary gives the same bytes.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hyperpod_deps.toolchain import oci
from hyperpod_deps.toolchain.agents_image import images_dir
from hyperpod_deps.toolchain.gobuild import binary_path
from hyperpod_deps.toolchain.kubeflow import KUBEFLOW, mpi_operator_module, training_operator_module

CREATED = "1970-01-01T00:00:00Z"
NONROOT = "65532:65532"


class StaticImageError(RuntimeError):
    """The binary of an image is missing: the message says how to get it."""


@dataclass(frozen=True)
class StaticImage:
    name: str  # registry/repository:tag, as pods ask for it
    binary: Path
    path: str  # where the binary lies in the image, without the leading /
    how_to_get: str  # the command that makes the binary
    arguments: tuple[str, ...] = ()
    env: tuple[str, ...] = field(default_factory=tuple)
    user: str = NONROOT

    @property
    def archive(self) -> Path:
        return images_dir() / f"{self.name.split('/', 1)[1].replace('/', '_').replace(':', '-')}.oci.tar"


PAUSE = StaticImage("registry.k8s.io/pause:3.10", Path("/usr/bin/catatonit"), "pause/catatonit",
                    "apt-get install catatonit", ("-P",), user="65535:65535")


def operator_images() -> tuple[StaticImage, ...]:
    training = training_operator_module().binaries[0]
    mpi = mpi_operator_module().binaries[0]
    return (
        StaticImage(f"docker.io/kubeflow/training-operator:v{KUBEFLOW.training_operator}",
                    binary_path(training), "manager", "make operators"),
        StaticImage(f"docker.io/mpioperator/mpi-operator:{KUBEFLOW.mpi_operator}", binary_path(mpi),
                    "opt/mpi-operator", "make operators", env=("CONTROLLER_VERSION=v2",)),
    )


def ensure(image: StaticImage) -> Path:
    """The image's OCI archive, made if missing or older than its binary."""
    if not image.binary.is_file():
        raise StaticImageError(f"{image.name} is made from {image.binary}, which is missing: "
                               f"{image.how_to_get}")
    archive = image.archive
    if archive.is_file() and archive.stat().st_mtime >= image.binary.stat().st_mtime:
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="static-image-", dir=archive.parent) as work:
        root, layout = Path(work) / "root", Path(work) / "layout"
        target = root / image.path
        target.parent.mkdir(parents=True)
        shutil.copy2(image.binary, target)
        top = image.path.split("/", 1)[0]
        tar = Path(work) / "layer.tar"
        oci.tar_tree(root, top, tar, mtime=0)
        layer = oci.add_layer(layout, tar, f"{image.path} from {image.binary.name}")
        config = oci.ImageConfig(entrypoint=[f"/{image.path}", *image.arguments], user=image.user,
                                 env=list(image.env))
        oci.write_image(layout, [layer], config, image.name, CREATED)
        partial = archive.with_name(f".{archive.name}.partial")
        oci.archive_layout(layout, partial)
        partial.replace(archive)
    return archive
