"""The plan of an install: per component, whether it is on, where it goes, what it creates."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperpod_deps.chart.cluster_prerequisites import declared
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
    # What the component needs on the cluster and does not install: {name, what, command}.
    needs: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "valuesKey": self.values_key,
            "enabled": self.enabled,
            "namespaces": self.namespaces,
            "objects": self.objects,
            "placements": self.placements,
            "images": self.images,
            "needs": self.needs,
        }


def plan(helm: Path, request: RenderRequest) -> list[ComponentPlan]:
    # Helm gives an aliased subchart its alias as .Chart.Name, so the component
    # label of every object is the component's values key.
    known = components(request.chart)
    charts = {component.values_key: component.chart for component in known}
    objects = render(helm, request)
    entries = inventory(objects, [component.values_key for component in known])
    needs: dict[str, list[dict[str, str]]] = {}
    for needed in declared(objects):
        needs.setdefault(needed.component, []).append(
            {"name": needed.name, "what": needed.what, "command": needed.command})
    return [
        ComponentPlan(
            component=charts.get(entry.name, entry.name),
            values_key=entry.name if entry.name in charts else "-",
            enabled=entry.enabled,
            namespaces=sorted(entry.namespaces),
            objects=dict(sorted(entry.objects_by_kind.items())),
            placements=entry.placements,
            images=sorted(entry.images),
            needs=needs.get(entry.name, []),
        )
        for entry in entries
    ]
