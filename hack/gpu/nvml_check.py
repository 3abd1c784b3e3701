#!/usr/bin/env python3
"""Run the health agent's NVML monitor on a real NVIDIA GPU and check it raises no false fault.

Needs only Python 3 and this repository: it reads NVML through nvidia-ml-py when installed,
else through libnvidia-ml.so.1 with ctypes (both backends are tried and compared when both
work). With PyYAML and msgspec importable it runs the agent's own rules (`full` mode);
without them the same findings with the shipped default thresholds (`basic` mode).

Expected GPU count: --expect-gpus N, else --instance-type (core/instance_types.yaml), else
the number of GPUs `nvidia-smi -L` lists. Prints a JSON summary; exit code 0 healthy, 1 a fault
was reported (a false fault on a healthy machine), 2 NVML could not be read at all.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from hyperpod_deps.health.gpu_snapshot import GpuSnapshot, Limits, findings  # noqa: E402
from hyperpod_deps.health.nvml_backend import (  # noqa: E402
    Backend,
    CtypesBackend,
    NvmlUnavailable,
    PynvmlBackend,
    read_snapshot,
)

INSTANCE_TYPES = ROOT / "src/hyperpod_deps/core/instance_types.yaml"


def expected_from_instance_type(name: str, table: str | None = None) -> int | None:
    """GPUs of an NVIDIA instance type, read from instance_types.yaml without a YAML library."""
    text = table if table is not None else INSTANCE_TYPES.read_text()
    family = None
    for line in text.splitlines():
        header = re.fullmatch(r"(\w+):\s*", line)
        if header:
            family = header.group(1)
            continue
        entry = re.fullmatch(r"\s+(\S+):\s*\{devices:\s*(\d+),.*\}\s*", line)
        if entry and entry.group(1) == name:
            return int(entry.group(2)) if family == "nvidia" else None
    return None


def nvidia_smi_count() -> int | None:
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        listed = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if listed.returncode != 0:
        return None
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))


def open_backends(choice: str) -> tuple[list[Backend], dict[str, str]]:
    opened: list[Backend] = []
    errors: dict[str, str] = {}
    for name, factory in (("pynvml", PynvmlBackend), ("ctypes", CtypesBackend)):
        if choice not in ("all", name):
            continue
        try:
            opened.append(factory())
        except (ImportError, NvmlUnavailable) as error:
            errors[name] = f"{type(error).__name__}: {error}"
    return opened, errors


def evaluate(snapshot: GpuSnapshot, expected: int | None, basic: bool) -> tuple[str, list[dict[str, str]]]:
    """The faults the agent would report: its rules (full) or the bare findings (basic)."""
    if not basic:
        try:
            from hyperpod_deps.health.nvml import evaluate as agent_evaluate
            from hyperpod_deps.health.rules import RuleSet
        except ImportError:
            basic = True
        else:
            matches = agent_evaluate(snapshot, expected, RuleSet.load())
            return "full", [
                {"rule": m.rule, "action": m.action.value, "reason": m.reason, "message": m.message}
                for m in matches if m.action.value != "none"]
    return "basic", [{"rule": "-", "action": "fault", "reason": "-", "message": text}
                     for text in findings(snapshot, expected, Limits())]


def summarize(snapshots: dict[str, GpuSnapshot], errors: dict[str, str], expected: int | None,
              smi_count: int | None, basic: bool) -> dict[str, Any]:
    """The JSON summary; `ok` is false on any fault or when the backends disagree."""
    results: dict[str, Any] = {}
    for name, snapshot in snapshots.items():
        mode, faults = evaluate(snapshot, expected, basic)
        results[name] = {"mode": mode, "device_count": snapshot.device_count, "faults": faults,
                         "gpus": [asdict(gpu) for gpu in snapshot.gpus]}
    counts = {result["device_count"] for result in results.values()}
    agree = len(counts) <= 1 and (smi_count is None or counts <= {smi_count})
    faulty = any(result["faults"] for result in results.values())
    return {"expected_gpus": expected, "nvidia_smi_gpus": smi_count, "backends": results,
            "unavailable": errors, "backends_agree": agree, "ok": bool(results) and agree and not faulty}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--expect-gpus", type=int)
    parser.add_argument("--instance-type", help="e.g. ml.p5e.48xlarge: expected GPUs from the catalogue")
    parser.add_argument("--backend", choices=("all", "pynvml", "ctypes"), default="all")
    parser.add_argument("--basic", action="store_true", help="skip the rules even if they can load")
    args = parser.parse_args(argv)
    smi = nvidia_smi_count()
    expected = args.expect_gpus
    if expected is None and args.instance_type:
        expected = expected_from_instance_type(args.instance_type)
    if expected is None:
        expected = smi
    backends, errors = open_backends(args.backend)
    snapshots = {backend.name: read_snapshot(backend) for backend in backends}
    summary = summarize(snapshots, errors, expected, smi, args.basic)
    print(json.dumps(summary, indent=2))
    if not snapshots:
        return 2
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
