"""The sandbox ("pause") image of the local cluster's real nodes, built here from Debian's static
`catatonit` (apt-get install catatonit): in `-P` mode it only holds the pod's namespaces and
reaps, which is all a sandbox does. No registry serves registry.k8s.io/pause to these machines.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hyperpod_deps.toolchain import oci
from hyperpod_deps.toolchain.agents_image import images_dir

CATATONIT = Path("/usr/bin/catatonit")
INSTALL_HINT = "apt-get install catatonit (Debian, Ubuntu)"
CREATED = "1970-01-01T00:00:00Z"  # the same bytes from the same binary
REPOSITORY = "pause"


class PauseImageError(RuntimeError):
    """catatonit is missing: the message says how to install it."""


def archive_path() -> Path:
    return images_dir() / "pause.oci.tar"


def ensure(name: str, binary: Path = CATATONIT) -> Path:
    """The pause image as an OCI archive named `name`, made once per binary (its digest in the
    archive's name would be overkill: the archive is rebuilt when the binary is newer)."""
    if not binary.is_file():
        raise PauseImageError(f"the real nodes' sandbox image is made from {binary}: {INSTALL_HINT}")
    archive = archive_path()
    if archive.is_file() and archive.stat().st_mtime >= binary.stat().st_mtime:
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pause-", dir=archive.parent) as work:
        root, layout = Path(work) / "root", Path(work) / "layout"
        (root / "pause").mkdir(parents=True)
        shutil.copy2(binary, root / "pause" / "catatonit")
        tar = Path(work) / "layer.tar"
        oci.tar_tree(root, "pause", tar, mtime=0)
        layer = oci.add_layer(layout, tar, f"catatonit from {binary}")
        config = oci.ImageConfig(entrypoint=["/pause/catatonit", "-P"], user="65535:65535", env=[])
        oci.write_image(layout, [layer], config, name, CREATED)
        partial = archive.with_name(f".{archive.name}.partial")
        oci.archive_layout(layout, partial)
        partial.replace(archive)
    return archive
