"""Where downloaded and built tools live: outside the repository, shared by runs."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """HYPERPOD_DEPS_CACHE, else $XDG_CACHE_HOME/hyperpod-deps, else ~/.cache/hyperpod-deps."""
    explicit = os.environ.get("HYPERPOD_DEPS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hyperpod-deps"


def bin_dir(tool: str, version: str) -> Path:
    return cache_root() / "bin" / f"{tool}-{version}"
