"""The umbrella chart's components, read from its Chart.yaml."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Component:
    chart: str  # the subchart's name
    # Where its values live in the umbrella: the alias when there is one. Helm renders an
    # aliased chart with its alias as .Chart.Name, so this is also its component label.
    values_key: str
    condition: str | None  # the values path that turns it on and off


def components(chart_dir: Path) -> list[Component]:
    """Every application subchart of the umbrella, in Chart.yaml order (library charts left out)."""
    metadata = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    found = []
    for dependency in metadata.get("dependencies") or []:
        sub_chart = yaml.safe_load((chart_dir / "charts" / dependency["name"] / "Chart.yaml").read_text())
        if sub_chart.get("type") == "library":
            continue
        found.append(
            Component(
                chart=dependency["name"],
                values_key=dependency.get("alias") or dependency["name"],
                condition=dependency.get("condition"),
            )
        )
    return found
