"""OCI image layouts written from layer tarballs, the same bytes for the same inputs.

The format (image-spec v1.1): an `oci-layout` marker, content-addressed blobs under
`blobs/sha256/`, an image config, a manifest naming the config and the gzip-compressed layers,
and `index.json` pointing at the manifest with the image's name. containerd (`ctr images
import`), skopeo (`oci-archive:`) and registries read it as is. Nothing here needs Docker.

Reproducible: layer tars carry one fixed mtime and owner, entries sorted; gzip headers carry no
time or name; JSON is written with sorted keys and no spaces.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# containerd names an imported image after this annotation; the OCI one holds the tag alone.
CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            found["annotations"] = dict(self.annotations)
        return found


@dataclass(frozen=True)
class ImageConfig:
    """What a runtime needs to start the image's process."""

    entrypoint: Sequence[str]
    user: str
    env: Sequence[str]
    working_dir: str = "/"
    labels: Mapping[str, str] = field(default_factory=dict)
    architecture: str = "amd64"
    os: str = "linux"


@dataclass(frozen=True)
class Layer:
    """One layer: its compressed blob and the digest of its uncompressed tar (the diff ID)."""

    blob: Descriptor
    diff_id: str
    comment: str


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _blob_path(layout: Path, digest: str) -> Path:
    algorithm, hex_digest = digest.split(":", 1)
    return layout / "blobs" / algorithm / hex_digest


def write_blob(layout: Path, data: bytes, media_type: str) -> Descriptor:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    target = _blob_path(layout, digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return Descriptor(media_type, digest, len(data))


def add_layer(layout: Path, tar_path: Path, comment: str) -> Layer:
    """Compress an uncompressed layer tar into the layout (gzip with no name or time)."""
    uncompressed = hashlib.sha256()
    scratch = layout / "blobs" / "sha256" / ".incoming"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with (tar_path.open("rb") as source, scratch.open("wb") as raw,
          gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as packed):
        while chunk := source.read(_CHUNK):
            uncompressed.update(chunk)
            packed.write(chunk)
    compressed = hashlib.sha256()
    with scratch.open("rb") as written:
        while chunk := written.read(_CHUNK):
            compressed.update(chunk)
    digest = "sha256:" + compressed.hexdigest()
    size = scratch.stat().st_size
    scratch.replace(_blob_path(layout, digest))
    return Layer(Descriptor(LAYER, digest, size), "sha256:" + uncompressed.hexdigest(), comment)


def config_document(config: ImageConfig, layers: Sequence[Layer], created: str) -> dict[str, Any]:
    return {
        "architecture": config.architecture,
        "os": config.os,
        "created": created,
        "config": {
            "User": config.user,
            "Entrypoint": list(config.entrypoint),
            "Env": list(config.env),
            "WorkingDir": config.working_dir,
            "Labels": dict(config.labels),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": created, "created_by": layer.comment} for layer in layers],
    }


def write_image(
    layout: Path, layers: Sequence[Layer], config: ImageConfig, name: str, created: str
) -> Descriptor:
    """Config, manifest and index for the layers already added; the manifest's descriptor.

    `name` is the full reference (registry/repository:tag) the image is imported under.
    """
    config_blob = write_blob(layout, canonical_json(config_document(config, layers, created)), CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config_blob.as_json(),
        "layers": [layer.blob.as_json() for layer in layers],
    }
    written = write_blob(layout, canonical_json(manifest), MANIFEST)
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    named = Descriptor(
        written.media_type, written.digest, written.size, {CONTAINERD_NAME: name, OCI_REF_NAME: tag}
    )
    (layout / "index.json").write_bytes(
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [named.as_json()],
            }
        )
    )
    (layout / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    return named


def _normalised(info: tarfile.TarInfo, mtime: int) -> tarfile.TarInfo:
    """Owner root, no user or group names, one fixed time: the same bytes on every machine."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = mtime
    info.pax_headers = {}
    return info


def tar_tree(root: Path, subtree: str, target: Path, mtime: int, parents: Iterable[str] = ()) -> None:
    """An uncompressed layer tar of `root/subtree`, paths relative to `root`.

    `parents` are directories above the subtree to add as entries (e.g. "opt"), so that a runtime
    unpacking only this layer still gets them with sane modes.
    """
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as archive:
        for parent in parents:
            info = archive.gettarinfo(str(root / parent), arcname=parent)
            archive.addfile(_normalised(info, mtime))
        for path in _sorted_walk(root / subtree):
            arcname = path.relative_to(root).as_posix()
            info = _normalised(archive.gettarinfo(str(path), arcname=arcname), mtime)
            if info.isreg():
                with path.open("rb") as content:
                    archive.addfile(info, content)
            else:
                archive.addfile(info)


def _sorted_walk(top: Path) -> Iterable[Path]:
    yield top
    if top.is_symlink() or not top.is_dir():
        return
    for child in sorted(top.iterdir(), key=lambda p: p.name):
        yield from _sorted_walk(child)


def archive_layout(layout: Path, target: Path, mtime: int = 0) -> None:
    """The layout as one tar (skopeo's `oci-archive:`, `ctr images import`)."""
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as archive:
        for path in _sorted_walk(layout):
            if path == layout or path.name == ".incoming":
                continue
            info = _normalised(
                archive.gettarinfo(str(path), arcname=path.relative_to(layout).as_posix()), mtime
            )
            if info.isreg():
                with path.open("rb") as content:
                    archive.addfile(info, content)
            else:
                archive.addfile(info)


def read_index(layout: Path) -> list[Descriptor]:
    index = json.loads((layout / "index.json").read_text())
    return [
        Descriptor(m["mediaType"], m["digest"], m["size"], m.get("annotations") or {})
        for m in index["manifests"]
    ]


def read_blob(layout: Path, digest: str) -> bytes:
    data = _blob_path(layout, digest).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest, f"blob {digest} does not match its digest"
    return data


def unpack(layout: Path, rootfs: Path) -> dict[str, Any]:
    """Every layer of the layout's one image into rootfs, in order, as a runtime would (whiteouts
    are not used by images built here and are refused); the image config."""
    (manifest_ref,) = read_index(layout)
    manifest = json.loads(read_blob(layout, manifest_ref.digest))
    rootfs.mkdir(parents=True, exist_ok=True)
    for layer in manifest["layers"]:
        with tarfile.open(fileobj=io.BytesIO(read_blob(layout, layer["digest"])), mode="r:gz") as archive:
            members = archive.getmembers()
            whiteouts = [m.name for m in members if os.path.basename(m.name).startswith(".wh.")]
            if whiteouts:
                raise ValueError(
                    f"layer {layer['digest']} has whiteouts, which unpack does not apply: {whiteouts[:3]}"
                )
            archive.extractall(rootfs, filter="fully_trusted")
    config: dict[str, Any] = json.loads(read_blob(layout, manifest["config"]["digest"]))
    return config


def remove_tree(path: Path) -> None:
    """rmtree that also removes read-only directories (a chroot's files can be read-only)."""

    def make_writable(function: Any, failed: str, _error: Any) -> None:
        os.chmod(failed, stat.S_IRWXU)
        function(failed)

    if path.exists():
        shutil.rmtree(path, onerror=make_writable)
