"""The agents image (`hyperpod-deps/agents`), built here from Debian packages and wheels, no Docker.

Two layers:
1. Debian bookworm, variant `essential` plus python3 and ca-certificates, made by mmdebstrap
   (no apt, no shell beyond dash; docs and man pages left out, copyright files kept). Its
   package versions are pinned in `image/debian-packages.lock`.
2. A virtual environment at /opt/hyperpod-deps made by the image's own python3 (in a chroot),
   holding this package's wheel and the wheels pinned, with hashes, in
   `image/requirements.lock`. Bytecode is compiled with unchecked hashes, so no timestamps.

Same inputs, same bytes: every time in the image is SOURCE_DATE_EPOCH below. Debian's mirror
keeps only current versions: when a pinned one is gone, the build says which and how to refresh
the lock (`make image-lock`); `--locked` makes that an error (releases build with it).

Built once per input set into the cache; `python -m hyperpod_deps.toolchain.agents_image`
(`make image`) prints the archive, its size and the image digest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hyperpod_deps import __version__
from hyperpod_deps.toolchain import oci
from hyperpod_deps.toolchain.cache import cache_root
from hyperpod_deps.toolchain.gobuild import Progress, stderr_progress

REPOSITORY = "hyperpod-deps/agents"
DEFAULT_REGISTRY = "ghcr.io"
# 2025-12-05T00:00:00Z: every file time, the gzip headers and the config's "created".
SOURCE_DATE_EPOCH = 1764892800
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
VARIANT = "essential"
INCLUDE = ("python3", "ca-certificates")
# Paths dpkg does not unpack: documentation, except each package's copyright (its licence).
DPKG_OPTIONS = tuple(
    f"--dpkgopt={option}"
    for option in (
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
        "path-exclude=/usr/share/locale/*",
        "path-exclude=/usr/share/info/*",
    )
)
# mmdebstrap leaves the build machine's DNS servers and host name in the base: the image would
# carry them, and its digest would differ from machine to machine. The runtime (kubelet,
# containerd) mounts its own over these files, so the image ships them empty.
HOOKS = ('--customize-hook=: > "$1/etc/resolv.conf"; : > "$1/etc/hostname"',)
VENV = "/opt/hyperpod-deps"
# The pip that installs the wheels into the venv (run from its wheel, not left in the image).
PIP_VERSION = "26.3"
# The build backend of this package's own wheel, cached beside the locked wheels, so the image
# builds offline once they are there (and the same source makes the same wheel). Never installed.
BUILD_BACKEND = "setuptools==80.9.0"
USER = "65532:65532"
DEBIAN_LOCK = Path("image/debian-packages.lock")
PYTHON_LOCK = Path("image/requirements.lock")


class ImageBuildError(RuntimeError):
    """A step of the build failed; the message says which and what to do."""


@dataclass(frozen=True)
class BuiltImage:
    name: str
    digest: str
    archive: Path
    layout: Path
    size: int
    packages_drift: tuple[str, ...]


def image_name(registry: str = DEFAULT_REGISTRY, version: str = __version__) -> str:
    return f"{registry}/{REPOSITORY}:{version}"


def archive_path(version: str = __version__) -> Path:
    """Where `make image` writes the image as an OCI archive (what `images push` sends)."""
    return images_dir() / f"agents-{version}.oci.tar"


def images_dir() -> Path:
    return cache_root() / "images"


# --- Debian layer -----------------------------------------------------------------------------


def read_debian_lock(path: Path) -> dict[str, str]:
    """`package=version` lines; `#` comments."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, _, version = line.partition("=")
            pins[package] = version
    return pins


def dpkg_status_versions(status: str) -> dict[str, str]:
    """Installed packages and versions from a dpkg status file."""
    versions: dict[str, str] = {}
    for stanza in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace()
        )
        if "Package" in fields and fields.get("Status", "").endswith(" installed"):
            versions[fields["Package"].split(":")[0]] = fields["Version"]
    return versions


def packages_in(base_tar: Path) -> dict[str, str]:
    with tarfile.open(base_tar) as archive:
        member = archive.extractfile("./var/lib/dpkg/status")
        assert member is not None, f"{base_tar} has no dpkg status"
        return dpkg_status_versions(member.read().decode())


def drift(locked: dict[str, str], built: dict[str, str]) -> list[str]:
    """Where the built base differs from the lock, one line each."""
    lines = [
        f"{name}: locked {version}, built {built.get(name, '(absent)')}"
        for name, version in sorted(locked.items())
        if built.get(name) != version
    ]
    lines += [
        f"{name}: not locked, built {version}"
        for name, version in sorted(built.items())
        if name not in locked
    ]
    return lines


def mmdebstrap_command(target: Path, pins: dict[str, str]) -> list[str]:
    """Exact versions of the included packages (apt refuses if the mirror lacks one); the rest
    follows from them on the mirror and is compared with the lock afterwards."""
    includes = ",".join(f"{name}={pins[name]}" if name in pins else name for name in INCLUDE)
    return [
        "mmdebstrap",
        "--quiet",
        f"--variant={VARIANT}",
        f"--include={includes}",
        *DPKG_OPTIONS,
        *HOOKS,
        SUITE,
        str(target),
        MIRROR,
    ]


def ensure_base(source: Path, progress: Progress, locked: bool) -> tuple[Path, tuple[str, ...]]:
    """The base layer's tar (cached per lock), and how it drifts from the lock."""
    pins = read_debian_lock(source / DEBIAN_LOCK)
    key = hashlib.sha256(
        canonical((SUITE, VARIANT, INCLUDE, DPKG_OPTIONS, HOOKS, SOURCE_DATE_EPOCH, sorted(pins.items())))
    ).hexdigest()[:16]
    target = images_dir() / f"base-{key}.tar"
    if not target.exists():
        if shutil.which("mmdebstrap") is None:
            raise ImageBuildError(
                "mmdebstrap is not installed: apt-get install mmdebstrap (make host-packages)"
            )
        progress(
            f"building the Debian base layer with mmdebstrap ({SUITE}, {VARIANT} + {', '.join(INCLUDE)})"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial.tar")
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
        done = subprocess.run(
            mmdebstrap_command(partial, pins), env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise ImageBuildError(
                f"mmdebstrap failed ({done.returncode}); if a pinned version left the mirror, "
                f"refresh the lock with `make image-lock`:\n{done.stderr[-3000:]}"
            )
        partial.replace(target)
    differences = tuple(drift(pins, packages_in(target)))
    if differences and locked:
        raise ImageBuildError(
            "the Debian base differs from image/debian-packages.lock (--locked):\n  "
            + "\n  ".join(differences)
            + "\nrefresh the lock with `make image-lock`"
        )
    return target, differences


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


# --- Python layer -----------------------------------------------------------------------------


def ensure_wheels(source: Path, progress: Progress) -> tuple[Path, list[Path]]:
    """The locked wheels (hash-checked by pip) plus this package's own wheel, and pip's wheel."""
    lock = source / PYTHON_LOCK
    key = hashlib.sha256(lock.read_bytes() + PIP_VERSION.encode() + BUILD_BACKEND.encode()).hexdigest()[:16]
    cache = images_dir() / f"wheels-{key}"
    if not (cache / ".complete").exists():
        progress("downloading the locked wheels from PyPI")
        cache.mkdir(parents=True, exist_ok=True)
        _pip(
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "--dest",
            str(cache),
            "-r",
            str(lock),
        )
        _pip(
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(cache),
            f"pip=={PIP_VERSION}",
            BUILD_BACKEND,
        )
        (cache / ".complete").touch()
    own = images_dir() / "own-wheel"
    shutil.rmtree(own, ignore_errors=True)
    progress(f"building the hyperpod-deps {__version__} wheel")
    _pip("wheel", "--quiet", "--no-deps", "--no-index", "--find-links", str(cache), "--wheel-dir", str(own),
         str(clean_copy(source, own / "source")))
    tools = (f"pip-{PIP_VERSION}-", BUILD_BACKEND.replace("==", "-") + "-")
    wheels = sorted(p for p in cache.glob("*.whl") if not p.name.startswith(tools))
    return cache / f"pip-{PIP_VERSION}-py3-none-any.whl", [*wheels, *own.glob("*.whl")]


def clean_copy(source: Path, target: Path) -> Path:
    """What the wheel is built from: the project's metadata and src/, copied without caches.
    Building in the checkout would reuse its build/ folder, where a module deleted from src/
    lives on and would land in the image."""
    target.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(source / name, target / name)
    shutil.copytree(source / "src", target / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return target


def _pip(*args: str) -> None:
    # SOURCE_DATE_EPOCH: the wheel's zip entries get that time, so the same source makes the same
    # wheel (pip records the wheel's hash in the image).
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ImageBuildError(
            f"pip {args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )


def chroot(rootfs: Path, *argv: str) -> str:
    """Run a command in the unpacked image, with a minimal environment; its output."""
    env = {
        "PATH": f"{VENV}/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH),
        "PYTHONHASHSEED": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
    }
    done = subprocess.run(
        ["chroot", str(rootfs), *argv], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ImageBuildError(
            f"in the image: {' '.join(argv)} exited {done.returncode}:\n"
            f"{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


def build_venv_layer(
    base_tar: Path, pip_wheel: Path, wheels: Sequence[Path], work: Path, progress: Progress
) -> Path:
    """The venv layer's tar: /opt/hyperpod-deps, made inside the base by the base's python3."""
    rootfs = work / "rootfs"
    oci.remove_tree(rootfs)
    rootfs.mkdir(parents=True)
    progress("unpacking the base and installing the wheels into /opt/hyperpod-deps (chroot)")
    subprocess.run(["tar", "-xf", str(base_tar), "-C", str(rootfs)], check=True)
    inbox = rootfs / "tmp" / "wheels"
    inbox.mkdir(parents=True)
    for wheel in [pip_wheel, *wheels]:
        shutil.copy2(wheel, inbox / wheel.name)
    chroot(rootfs, "/usr/bin/python3", "-m", "venv", "--without-pip", VENV)
    chroot(
        rootfs,
        f"{VENV}/bin/python",
        f"/tmp/wheels/{pip_wheel.name}/pip",
        "install",
        "--quiet",
        "--no-index",
        "--no-deps",
        "--no-compile",
        *(f"/tmp/wheels/{w.name}" for w in wheels),
    )
    chroot(
        rootfs,
        f"{VENV}/bin/python",
        "-m",
        "compileall",
        "-q",
        "-j",
        "1",
        "--invalidation-mode",
        "unchecked-hash",
        f"{VENV}/lib",
    )
    version = chroot(rootfs, f"{VENV}/bin/hyperpod-deps", "--version").strip()
    if __version__ not in version:
        raise ImageBuildError(f"the image's hyperpod-deps reports {version!r}, expected {__version__}")
    layer = work / "venv-layer.tar"
    oci.tar_tree(rootfs, VENV.lstrip("/"), layer, SOURCE_DATE_EPOCH, parents=("opt",))
    oci.remove_tree(rootfs)
    return layer


# --- refreshing the locks ---------------------------------------------------------------------


def refresh_locks(source: Path, progress: Progress) -> None:
    """Write both locks from what the mirror and PyPI serve today."""
    work = images_dir() / "lock-work"
    oci.remove_tree(work)
    work.mkdir(parents=True)
    progress("resolving this package's runtime dependencies in a fresh venv")
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    venv_pip = [str(work / "venv" / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*venv_pip, "install", "--quiet", "--only-binary=:all:", str(source)], check=True)
    frozen = subprocess.run(
        [*venv_pip, "freeze", "--exclude", "hyperpod-deps"], capture_output=True, text=True, check=True
    ).stdout.split()
    subprocess.run(
        [
            *venv_pip,
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(work / "wheels"),
            *frozen,
        ],
        check=True,
    )
    hashes = {
        _normalised(w.name.split("-", 1)[0]): hashlib.sha256(w.read_bytes()).hexdigest()
        for w in (work / "wheels").glob("*.whl")
    }
    lines = [
        f"{pin} --hash=sha256:{hashes[_normalised(pin.split('==')[0])]}"
        for pin in sorted(frozen, key=str.lower)
    ]
    (source / PYTHON_LOCK).write_text(
        "# The agents image's Python packages (linux x86_64, CPython 3.11): make image-lock writes it.\n"
        + "\n".join(lines)
        + "\n"
    )
    progress("building an unpinned Debian base to read today's versions")
    base = work / "base.tar"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
    subprocess.run(mmdebstrap_command(base, {}), env=env, check=True, capture_output=True)
    versions = packages_in(base)
    (source / DEBIAN_LOCK).write_text(
        f"# The agents image's Debian base ({SUITE}, {VARIANT} + {', '.join(INCLUDE)}): "
        "make image-lock writes it.\n"
        + "".join(f"{name}={version}\n" for name, version in sorted(versions.items()))
    )
    oci.remove_tree(work)
    progress(f"wrote {PYTHON_LOCK} ({len(lines)} packages) and {DEBIAN_LOCK} ({len(versions)} packages)")


def _normalised(distribution: str) -> str:
    """A distribution name as PEP 503 compares them (wheel file names write - as _)."""
    return distribution.lower().replace("_", "-").replace(".", "-")


# --- the image --------------------------------------------------------------------------------


def image_config() -> oci.ImageConfig:
    return oci.ImageConfig(
        entrypoint=[f"{VENV}/bin/hyperpod-deps"],
        user=USER,
        env=[
            f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "PYTHONDONTWRITEBYTECODE=1",
            "PYTHONUNBUFFERED=1",
        ],
        labels={
            "org.opencontainers.image.title": "hyperpod-deps agents",
            "org.opencontainers.image.version": __version__,
            "org.opencontainers.image.licenses": "Apache-2.0",
            "org.opencontainers.image.base.name": f"debian:{SUITE} ({VARIANT} + {' '.join(INCLUDE)})",
        },
    )


def build(
    source: Path, registry: str = DEFAULT_REGISTRY, locked: bool = False, progress: Progress = stderr_progress
) -> BuiltImage:
    started = time.monotonic()
    base_tar, differences = ensure_base(source, progress, locked)
    for line in differences:
        progress(f"warning: Debian base differs from the lock: {line}")
    pip_wheel, wheels = ensure_wheels(source, progress)
    work = images_dir() / "work"
    work.mkdir(parents=True, exist_ok=True)
    venv_layer = build_venv_layer(base_tar, pip_wheel, wheels, work, progress)
    name = image_name(registry)
    layout = images_dir() / f"agents-{__version__}"
    oci.remove_tree(layout)
    progress("writing the OCI image (compressing the layers)")
    layers = [
        oci.add_layer(layout, base_tar, f"mmdebstrap {SUITE} {VARIANT} + {' '.join(INCLUDE)}"),
        oci.add_layer(layout, venv_layer, f"venv {VENV}: hyperpod-deps {__version__} and locked wheels"),
    ]
    created = datetime.fromtimestamp(SOURCE_DATE_EPOCH, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = oci.write_image(layout, layers, image_config(), name, created)
    archive = archive_path()
    oci.archive_layout(layout, archive)
    size = sum(layer.blob.size for layer in layers)
    progress(f"built {name} in {time.monotonic() - started:.0f}s")
    return BuiltImage(name, manifest.digest, archive, layout, size, differences)


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hyperpod_deps.toolchain.agents_image",
        description="Build the agents image as an OCI archive (root, mmdebstrap).",
    )
    parser.add_argument("--source", type=Path, default=Path.cwd(), help="the repository (default: .)")
    parser.add_argument("--registry", default=DEFAULT_REGISTRY, help="registry part of the image name")
    parser.add_argument(
        "--locked",
        action="store_true",
        help="fail when the Debian base differs from image/debian-packages.lock",
    )
    parser.add_argument(
        "--refresh-locks",
        action="store_true",
        help="rewrite image/requirements.lock and image/debian-packages.lock from today's "
        "PyPI and Debian mirror, then build",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if os.geteuid() != 0:
        sys.exit("error: building the image needs root (mmdebstrap and chroot)")
    try:
        if args.refresh_locks:
            refresh_locks(args.source.resolve(), stderr_progress)
        built = build(args.source.resolve(), args.registry, args.locked)
    except ImageBuildError as error:
        sys.exit(f"error: {error}")
    print(f"image:   {built.name}")
    print(f"digest:  {built.digest}")
    print(f"archive: {built.archive} ({built.size / 1e6:.1f} MB compressed)")
    print(f"layout:  {built.layout}")


if __name__ == "__main__":
    main()
