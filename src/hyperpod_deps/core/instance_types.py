"""The instance-type table (instance_types.yaml beside this module), typed.

The one source of truth for which instance types are NVIDIA, Neuron or
EFA-capable and how many accelerator devices each has. The chart's lists are
generated from it (hack/gen_instance_types.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

Family = Literal["nvidia", "neuron", "cpu"]
FAMILIES: tuple[Family, ...] = ("nvidia", "neuron", "cpu")


@dataclass(frozen=True)
class InstanceType:
    name: str
    family: Family
    devices: int  # GPUs for nvidia, Neuron devices for neuron, 0 for cpu
    efa: bool


@cache
def catalogue() -> dict[str, InstanceType]:
    """Every known type by name, in the file's order."""
    # Beside this module: the package is installed unpacked (rules.py says why not importlib.resources).
    text = Path(__file__).with_name("instance_types.yaml").read_text()
    table: dict[str, dict[str, dict[str, object]]] = yaml.safe_load(text)
    unknown = set(table) - set(FAMILIES)
    if unknown:
        raise ValueError(f"instance_types.yaml: unknown families {sorted(unknown)}")
    return {
        name: InstanceType(name, family, int(str(facts["devices"])), bool(facts["efa"]))
        for family in FAMILIES
        for name, facts in (table.get(family) or {}).items()
    }


def of_family(family: Family) -> list[str]:
    return [t.name for t in catalogue().values() if t.family == family]


def efa_capable() -> list[str]:
    return [t.name for t in catalogue().values() if t.efa]
