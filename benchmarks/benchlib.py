"""What every benchmark script shares: the machine's description, load averages, process memory,
running the real `hyperpod-deps` command with timestamps on its progress lines, and saving results.

The scripts are run by hand (or `make bench`), never by pytest: each measures one thing on the
real local control plane and prints a line to paste into benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
NODE_SPECS = Path(__file__).resolve().parent / "nodes"


def arguments(doc: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def hyperpod_deps() -> str:
    """The command of the environment running this script (.venv/bin/hyperpod-deps under make)."""
    beside = Path(sys.executable).with_name("hyperpod-deps")
    return str(beside) if beside.exists() else "hyperpod-deps"


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal:")))
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(memory_kib / 1024**2, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def load_average() -> float:
    """The 1-minute load average: other work on a shared machine shows up here."""
    return round(os.getloadavg()[0], 2)


@dataclass(frozen=True)
class Memory:
    rss_mib: float  # VmRSS: resident now
    peak_mib: float  # VmHWM: the most it was ever resident

    def as_dict(self) -> dict[str, float]:
        return {"rss_mib": self.rss_mib, "peak_mib": self.peak_mib}


def memory(pid: int) -> Memory:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)  # kB in /proc
    return Memory(fields["VmRSS"], fields["VmHWM"])


@dataclass(frozen=True)
class Timed:
    seconds: float
    returncode: int
    stderr_lines: list[tuple[float, str]]  # (seconds since start, line)

    def first(self, text: str) -> float | None:
        """When a progress line containing the text appeared."""
        return next((at for at, line in self.stderr_lines if text in line), None)


def run_timed(args: Sequence[str], env: Mapping[str, str] | None = None, echo: bool = True) -> Timed:
    """Run a command; its stderr (progress) is echoed and each line time-stamped."""
    started = time.monotonic()
    process = subprocess.Popen(list(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(env) if env is not None else None)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append((round(time.monotonic() - started, 2), line.rstrip("\n")))
        if echo:
            print(f"  [{lines[-1][0]:7.1f}s] {line.rstrip()}", file=sys.stderr, flush=True)
    code = process.wait()
    return Timed(round(time.monotonic() - started, 2), code, lines)


def cluster(*args: str, env: Mapping[str, str] | None = None) -> Timed:
    return run_timed([hyperpod_deps(), "cluster", *args], env=env)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": min(values), "max": max(values)}


def save(name: str, result: dict[str, Any]) -> Path:
    """Append to benchmarks/results/<name>.json, the raw figures behind the README's tables
    (a list of records, oldest first, so a repeated run adds a sample instead of replacing one)."""
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"{name}.json"
    record = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine(),
              "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), **result}
    records: list[Any] = json.loads(target.read_text()) if target.exists() else []
    target.write_text(json.dumps([*records, record], indent=2) + "\n")
    print(f"saved {target}", file=sys.stderr)
    return target
