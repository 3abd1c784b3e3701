"""Cold `hyperpod-deps cluster up`: as on a fresh machine, with every control-plane binary built
from its Go modules. About half an hour on two cores: run it when the machine is otherwise idle.

Everything goes into a scratch folder: the tool cache (HYPERPOD_DEPS_CACHE: helm, kubectl, the
built binaries), an empty Go build cache (GOCACHE) and, unless --keep-module-cache, an empty Go
module cache (GOMODCACHE), so the modules are downloaded again as a new machine would. Your own
caches are left alone. Per-binary times come from the build's own progress lines.

    .venv/bin/python benchmarks/cold_cluster_up.py
    .venv/bin/python benchmarks/cold_cluster_up.py --keep-module-cache   # build only, no downloads
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import benchlib

BUILT = re.compile(r"built (\S+) (\S+) in (\d+)m(\d+)s")
RESOLVING = "resolving Go modules for "


def environment(workdir: Path, keep_module_cache: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["HYPERPOD_DEPS_CACHE"] = str(workdir / "cache")
    env["GOCACHE"] = str(workdir / "gocache")
    if not keep_module_cache:
        env["GOMODCACHE"] = str(workdir / "gomodcache")
    return env


def phases(up: benchlib.Timed) -> dict[str, float]:
    """Seconds per binary (as the build reports them) and per module resolution (`go get`, `go list`)."""
    found: dict[str, float] = {}
    for index, (at, line) in enumerate(up.stderr_lines):
        built = BUILT.search(line)
        if built:
            found[f"build {built.group(1)}"] = int(built.group(3)) * 60 + int(built.group(4))
        elif RESOLVING in line and index + 1 < len(up.stderr_lines):
            module = line.split(RESOLVING, 1)[1].split()[0]
            found[f"resolve modules {module}"] = round(up.stderr_lines[index + 1][0] - at, 1)
    return found


def remove(workdir: Path) -> None:
    # Go makes its module cache read-only; make it writable so it can be deleted.
    for root, dirs, _ in os.walk(workdir):
        for directory in dirs:
            path = Path(root) / directory
            if not path.is_symlink():
                path.chmod(0o755)
    shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = benchlib.arguments(__doc__)
    parser.add_argument("--keep-module-cache", action="store_true",
                        help="use your Go module cache (no downloads): measures the build alone")
    parser.add_argument("--workdir", type=Path, help="scratch folder [default: a new one under /tmp]")
    parser.add_argument("--keep-workdir", action="store_true", help="leave the scratch folder behind")
    options = parser.parse_args()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="hyperpod-deps-cold-"))
    env = environment(workdir, options.keep_module_cache)
    name = "bench-cold"
    load = benchlib.load_average()
    try:
        up = benchlib.cluster("up", "--name", name, env=env)
        benchlib.cluster("down", "--name", name, "--purge", env=env)
    finally:
        if not options.keep_workdir:
            remove(workdir)
    if up.returncode != 0:
        sys.exit(f"cluster up failed (exit {up.returncode}) after {up.seconds:.0f}s")
    steps = phases(up)
    result = {"total_seconds": up.seconds, "phases_seconds": steps, "load_before": load,
              "load_after": benchlib.load_average(), "module_cache": "kept" if options.keep_module_cache
              else "empty"}
    benchlib.save("cold_cluster_up", result)
    for step, seconds in steps.items():
        print(f"| {step} | {int(seconds) // 60}m{int(seconds) % 60:02d}s |")
    print(f"| total `cluster up` | {int(up.seconds) // 60}m{int(up.seconds) % 60:02d}s "
          f"(load {load} before, {result['load_after']} after) |")


if __name__ == "__main__":
    main()
