"""The sample lines of tests/data/kernel-logs, shared by the rule tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[2] / "data" / "kernel-logs"


def samples() -> dict[str, dict[str, list[dict[str, str]]]]:
    loaded: dict[str, Any] = yaml.safe_load((DATA / "samples.yaml").read_text())
    return loaded


def near_misses() -> dict[str, list[str]]:
    loaded: dict[str, Any] = yaml.safe_load((DATA / "near-misses.yaml").read_text())
    return loaded
