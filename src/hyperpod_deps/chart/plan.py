"""The plan of an install: per component, whether it is on, where it goes, what it creates."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperpod_deps.chart.components import components
from hyperpod_deps.chart.inventory import inventory
from hyperpod_deps.chart.render import RenderRequest, render


@dataclass(frozen=True)
class ComponentPlan:
    component: str
    values_key: str
    enabled: bool
    namespaces: list[str]
    objects: dict[str, int]
    placements: dict[str, list[str]]
    images: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "valuesKey": self.values_key,
            "enabled": self.enabled,
            "namespaces": self.namespaces,
            "objects": self.objects,
            "placements": self.placements,
            "images": self.images,
        }


def plan(helm: Path, request: RenderRequest) -> list[ComponentPlan]:
    # Helm gives an aliased subchart its alias as .Chart.Name, so the component
    # label of every object is the component's values key.
    known = components(request.chart)
    charts = {component.values_key: component.chart for component in known}
    entries = inventory(render(helm, request), [component.values_key for component in known])
    return [
        ComponentPlan(
            component=charts.get(entry.name, entry.name),
            values_key=entry.name if entry.name in charts else "-",
            enabled=entry.enabled,
            namespaces=sorted(entry.namespaces),
            objects=dict(sorted(entry.objects_by_kind.items())),
            placements=entry.placements,
            images=sorted(entry.images),
        )
        for entry in entries
    ]
