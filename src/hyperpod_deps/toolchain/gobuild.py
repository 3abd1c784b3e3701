"""Building Go programs from their published modules, in scratch modules under the cache.

A scratch module is a directory holding only a go.mod (written by us) and the go.sum that
`go get` fills in. `go build` then compiles a main package of a dependency into a binary,
which is moved atomically into `bin/<tool>-<version>/`. Nothing is built inside the repository
and no upstream source is copied: Go fetches it from the module proxy into its module cache.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hyperpod_deps.toolchain.cache import bin_dir, cache_root

Progress = Callable[[str], None]


class GoUnavailable(RuntimeError):
    """No `go` command: the control plane cannot be built on this machine."""


class GoBuildFailed(RuntimeError):
    """`go get` or `go build` failed; the message carries the log's tail and its path."""

    def __init__(self, what: str, log: Path, tail: str) -> None:
        super().__init__(f"{what} failed (full log: {log}):\n{tail}")
        self.log = log


@dataclass(frozen=True)
class GoBinary:
    """One binary: its name in the cache, its main package, its version and link flags."""

    tool: str
    package: str
    version: str
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # build tags, e.g. to leave out a cgo-only feature


@dataclass(frozen=True)
class ScratchModule:
    """A go.mod under the cache from which the listed binaries are built."""

    name: str
    go_mod: str
    binaries: tuple[GoBinary, ...]
    get: tuple[str, ...] = field(default=())  # `go get` arguments that fill go.sum

    @property
    def directory(self) -> Path:
        return cache_root() / "gobuild" / self.name


def binary_path(binary: GoBinary) -> Path:
    return bin_dir(binary.tool, binary.version) / binary.tool


def is_built(binary: GoBinary) -> bool:
    path = binary_path(binary)
    return path.is_file() and os.access(path, os.X_OK)


def go_command() -> str:
    found = shutil.which("go")
    if not found:
        raise GoUnavailable(
            "the `go` command is not on PATH: the local control plane (etcd, kube-apiserver, "
            "kube-controller-manager, kube-scheduler, kwok) is built from its Go modules. "
            "Install Go 1.25 or newer (Debian: apt-get install golang-go, or go.dev/dl) and retry."
        )
    return found


def build_parallelism() -> int:
    """Packages compiled at once: one per core, at most 4, so linking fits in memory."""
    return max(1, min(os.cpu_count() or 1, 4))


def go_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-trimpath -buildvcs=false -mod=mod"
    env.setdefault("GOTOOLCHAIN", "auto")
    return env


def build_command(go: str, binary: GoBinary, output: Path) -> list[str]:
    ldflags = " ".join(("-s", "-w", *binary.ldflags))
    return [go, "build", "-v", "-p", str(build_parallelism()), f"-ldflags={ldflags}",
            *_tags_flag(binary), "-o", str(output), binary.package]


def _tags_flag(binary: GoBinary) -> list[str]:
    return [f"-tags={','.join(binary.tags)}"] if binary.tags else []


def ensure_built(module: ScratchModule, progress: Progress) -> dict[str, Path]:
    """Every binary of the module, built once; later calls only look in the cache."""
    missing = [b for b in module.binaries if not is_built(b)]
    if missing:
        go = go_command()
        _prepare(module, go, progress)
        for binary in missing:
            _build_one(module, go, binary, progress)
    return {b.tool: binary_path(b) for b in module.binaries}


def _prepare(module: ScratchModule, go: str, progress: Progress) -> None:
    directory = module.directory
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    go_mod = directory / "go.mod"
    if not go_mod.exists() or go_mod.read_text() != module.go_mod:
        _write_atomically(go_mod, module.go_mod)
    if module.get:
        progress(f"resolving Go modules for {module.name} (first time: downloads from the module proxy)")
        _run_logged([go, "get", *module.get], directory, directory / "logs" / "go-get.log",
                    f"go get in {directory}", progress, label=module.name)


def _build_one(module: ScratchModule, go: str, binary: GoBinary, progress: Progress) -> None:
    target = binary_path(binary)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    log = module.directory / "logs" / f"{binary.tool}.log"
    started = time.monotonic()
    total = _package_count(go, module.directory, binary)
    progress(f"building {binary.tool} {binary.version} ({total or 'unknown number of'} packages; log: {log})")
    try:
        _run_logged(build_command(go, binary, partial), module.directory, log,
                    f"building {binary.tool} {binary.version}", progress, label=binary.tool, total=total)
        partial.chmod(0o755)
        partial.replace(target)  # atomic: a concurrent run never sees half a binary
    finally:
        partial.unlink(missing_ok=True)
    progress(f"built {binary.tool} {binary.version} in {_elapsed(started)}: {target}")


def _package_count(go: str, directory: Path, binary: GoBinary) -> int | None:
    """How many packages the binary needs, so progress can say how far along the build is."""
    listed = subprocess.run([go, "list", "-deps", *_tags_flag(binary), binary.package],
                            cwd=directory, env=go_environment(),
                            capture_output=True, text=True, check=False)
    return len(listed.stdout.split()) if listed.returncode == 0 else None


def _run_logged(command: Sequence[str], cwd: Path, log: Path, what: str, progress: Progress,
                label: str, total: int | None = None) -> None:
    """Run niced, all output to `log`; report the package count every 20 s while it runs."""
    started = time.monotonic()
    with log.open("w") as sink:
        sink.write(f"$ {' '.join(command)}\n")
        sink.flush()
        process = subprocess.Popen(command, cwd=cwd, env=go_environment(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, preexec_fn=_lower_priority)
        assert process.stdout is not None
        _follow(process.stdout, sink, progress, label, started, total)
        code = process.wait()
    if code != 0:
        raise GoBuildFailed(what, log, _tail(log))


def _follow(stream: IO[str], sink: IO[str], progress: Progress, label: str, started: float,
            total: int | None) -> None:
    """`go build -v` prints each package it compiles (cached ones are not printed)."""
    last_report, last = started, ""
    for lines, line in enumerate(stream, start=1):
        sink.write(line)
        if not line.startswith(("go: ", "#", " ", "\t")):
            last = line.strip()
        now = time.monotonic()
        if now - last_report >= 20:
            last_report = now
            done = f"{lines}/{total}" if total else str(lines)
            progress(f"  {label}: {_elapsed(started)}, {done} packages compiled (now {last or '...'})")


def _lower_priority() -> None:
    os.nice(10)  # a build must not starve the user's other work on a small machine


def _tail(log: Path, lines: int = 25) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _elapsed(started: float) -> str:
    seconds = int(time.monotonic() - started)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)


def stderr_progress(message: str) -> None:
    print(f"hyperpod-deps: {message}", file=sys.stderr, flush=True)
