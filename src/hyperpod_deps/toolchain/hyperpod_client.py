"""AWS's own SageMaker HyperPod client (PyPI `sagemaker-hyperpod`: the `hyp` CLI and its Python
SDK), pinned, in a virtual environment of its own in the cache: the end-to-end tests run it
against a local cluster with the chart installed, as a HyperPod user would.

Its own venv because it pins hundreds of packages (boto3, kubernetes, pydantic, ...) that must
not move this project's. `make tools` installs it (`python -m hyperpod_deps.toolchain.hyperpod_client`).
"""
from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from hyperpod_deps.toolchain.cache import cache_root

PACKAGE = "sagemaker-hyperpod"
VERSION = "3.12.0"
_MARKER = ".hyperpod-deps-installed"


class ClientMissing(RuntimeError):
    """The client's virtual environment has not been installed."""


def environment() -> Path:
    return cache_root() / f"{PACKAGE}-{VERSION}"


def python() -> Path:
    """The venv's interpreter, for running the client's SDK classes."""
    return installed() / "bin" / "python"


def hyp() -> Path:
    return installed() / "bin" / "hyp"


def installed() -> Path:
    home = environment()
    if not (home / _MARKER).exists():
        raise ClientMissing(f"{PACKAGE} {VERSION} is not installed in {home}: run `make tools` "
                            f"(python -m hyperpod_deps.toolchain.hyperpod_client)")
    return home


def ensure() -> Path:
    """Create the venv and install the pinned client once (a few minutes; about 600 MB)."""
    home = environment()
    if (home / _MARKER).exists():
        return home
    print(f"==> installing {PACKAGE} {VERSION} into {home}", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    subprocess.run([str(home / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    f"{PACKAGE}=={VERSION}"], check=True)
    (home / _MARKER).write_text(f"{PACKAGE}=={VERSION}\n")
    return home


def main() -> None:
    print(f"{PACKAGE} {VERSION}: {ensure() / 'bin' / 'hyp'}")


if __name__ == "__main__":
    main()
