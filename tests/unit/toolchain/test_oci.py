"""OCI layouts from layer tars: the same bytes for the same inputs, and readable back."""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
from pathlib import Path

import pytest

from hyperpod_deps.kube import client
from hyperpod_deps.toolchain import agents_image, oci

CONFIG = oci.ImageConfig(entrypoint=["/opt/app/bin/app"], user="65532:65532", env=["PATH=/usr/bin"])


def tree(root: Path, mtime: int) -> Path:
    (root / "opt" / "app" / "bin").mkdir(parents=True)
    script = root / "opt" / "app" / "bin" / "app"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    (root / "opt" / "app" / "data.txt").write_text("data\n")
    (root / "opt" / "app" / "link").symlink_to("data.txt")
    for path in [script, root / "opt" / "app" / "data.txt"]:
        os.utime(path, (mtime, mtime))
    return root


def image(tmp: Path, mtime: int) -> tuple[Path, oci.Descriptor]:
    root = tree(tmp / "root", mtime)
    layer_tar = tmp / "layer.tar"
    oci.tar_tree(root, "opt/app", layer_tar, mtime=1000, parents=("opt",))
    layout = tmp / "layout"
    layer = oci.add_layer(layout, layer_tar, "app")
    return layout, oci.write_image(layout, [layer], CONFIG, "example.test/app:1.2", "1970-01-01T00:16:40Z")


def test_same_inputs_same_digest_whatever_the_file_times(tmp_path: Path) -> None:
    _, first = image(tmp_path / "a", mtime=1)
    _, second = image(tmp_path / "b", mtime=999_999)
    assert first.digest == second.digest


def test_a_changed_file_changes_the_digest(tmp_path: Path) -> None:
    layout, first = image(tmp_path / "a", mtime=1)
    (tmp_path / "a" / "root" / "opt" / "app" / "data.txt").write_text("other\n")
    oci.tar_tree(tmp_path / "a" / "root", "opt/app", tmp_path / "again.tar", mtime=1000)
    layer = oci.add_layer(layout, tmp_path / "again.tar", "app")
    second = oci.write_image(layout, [layer], CONFIG, "example.test/app:1.2", "1970-01-01T00:16:40Z")
    assert first.digest != second.digest


def test_the_layout_names_the_image_and_every_blob_matches_its_digest(tmp_path: Path) -> None:
    layout, manifest_ref = image(tmp_path, mtime=1)
    [named] = oci.read_index(layout)
    assert named == manifest_ref
    assert named.annotations == {oci.CONTAINERD_NAME: "example.test/app:1.2", oci.OCI_REF_NAME: "1.2"}
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    manifest = json.loads(oci.read_blob(layout, named.digest))
    assert manifest["mediaType"] == oci.MANIFEST and manifest["layers"][0]["mediaType"] == oci.LAYER
    config = json.loads(oci.read_blob(layout, manifest["config"]["digest"]))
    assert config["config"]["User"] == "65532:65532"
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256((tmp_path / "layer.tar").read_bytes())
                                            .hexdigest()]
    for blob in (layout / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_layer_entries_are_owned_by_root_at_one_time(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", mtime=5)
    oci.tar_tree(root, "opt/app", tmp_path / "layer.tar", mtime=1000, parents=("opt",))
    with tarfile.open(tmp_path / "layer.tar") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["opt", "opt/app", "opt/app/bin", "opt/app/bin/app",
                                         "opt/app/data.txt", "opt/app/link"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 1000)}
    assert members[3].mode & 0o777 == 0o755 and members[5].issym() and members[5].linkname == "data.txt"


def test_unpack_gives_back_the_files_and_the_config(tmp_path: Path) -> None:
    layout, _ = image(tmp_path, mtime=1)
    config = oci.unpack(layout, tmp_path / "rootfs")
    assert (tmp_path / "rootfs" / "opt" / "app" / "bin" / "app").read_text() == "#!/bin/sh\necho hello\n"
    assert os.readlink(tmp_path / "rootfs" / "opt" / "app" / "link") == "data.txt"
    assert config["config"]["Entrypoint"] == ["/opt/app/bin/app"]


def test_the_archive_is_the_layout_in_one_tar(tmp_path: Path) -> None:
    layout, _ = image(tmp_path, mtime=1)
    oci.archive_layout(layout, tmp_path / "a.tar")
    oci.archive_layout(layout, tmp_path / "b.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    with tarfile.open(tmp_path / "a.tar") as archive:
        names = archive.getnames()
    assert {"oci-layout", "index.json", "blobs/sha256"} <= set(names)


STATUS = """Package: dash
Status: install ok installed
Version: 0.5.12-2

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u14
Description: GNU C Library
 continuation: not a field

Package: removed-one
Status: deinstall ok config-files
Version: 1.0
"""


def test_dpkg_status_lists_installed_packages_only() -> None:
    assert agents_image.dpkg_status_versions(STATUS) == {"dash": "0.5.12-2", "libc6": "2.36-9+deb12u14"}


def test_drift_names_every_difference(tmp_path: Path) -> None:
    lock = tmp_path / "debian.lock"
    lock.write_text("# header\ndash=0.5.12-2\nlibc6=2.36-9+deb12u13\ngone=1\n")
    locked = agents_image.read_debian_lock(lock)
    assert agents_image.drift(locked, {"dash": "0.5.12-2", "libc6": "2.36-9+deb12u14", "new": "2"}) == [
        "gone: locked 1, built (absent)", "libc6: locked 2.36-9+deb12u13, built 2.36-9+deb12u14",
        "new: not locked, built 2"]


def test_included_packages_are_asked_for_at_their_locked_version(tmp_path: Path) -> None:
    command = agents_image.mmdebstrap_command(tmp_path / "base.tar", {"python3": "3.11.2-1+b1"})
    assert "--include=python3=3.11.2-1+b1,ca-certificates" in command


def test_the_locks_in_the_repository_pin_what_the_build_includes() -> None:
    root = Path(__file__).resolve().parents[3]
    locked = agents_image.read_debian_lock(root / agents_image.DEBIAN_LOCK)
    assert set(agents_image.INCLUDE) <= set(locked)
    requirements = (root / agents_image.PYTHON_LOCK).read_text().splitlines()
    pins = [line for line in requirements if line and not line.startswith("#")]
    assert pins and all("==" in line and "--hash=sha256:" in line for line in pins)
    assert {"kubernetes", "msgspec", "click"} <= {line.split("==")[0].lower() for line in pins}


def test_the_api_client_needs_no_writable_temporary_directory(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    """A read-only root filesystem with no volume at /tmp: discovery is kept in memory."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "absent"))
    assert client._private_directory() is None
    cache = client._discovery_cache(None)
    assert not cache.exists()
    with pytest.raises(OSError):
        cache.write_text("{}")
