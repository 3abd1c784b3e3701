"""Every subchart's values against its schema, whether or not the component is turned on.

helm validates a subchart's values only when the subchart is enabled, so a misspelt key under a
disabled component (`--set storage.fsx.filesystemId=...` with storage off) passes until the
day it is turned on. This reads the values the way helm merges them (the subchart's defaults,
the umbrella's section, each values file, then --set and --set-string) and reports the keys no
schema knows. It reports unknown keys only: --set values are typed by a simplified reading of
helm's syntax (no lists, no indices), so their types are left to helm.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from hyperpod_deps.chart.render import RenderRequest
from hyperpod_deps.chart.requirements import deep_merge, parse_set


@dataclass(frozen=True)
class UnknownKey:
    component: str  # the values key: the subchart's alias, else its name
    path: str  # where in that component's values, dotted
    message: str

    def __str__(self) -> str:
        where = f"{self.component}.{self.path}" if self.path else self.component
        return f"{where}: {self.message}"


def _mapping(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text()) if path.is_file() else None
    return loaded if isinstance(loaded, dict) else {}


def subcharts(chart: Path) -> Iterator[tuple[str, Path]]:
    """(values key, schema file) of each embedded subchart that has a schema."""
    for dependency in _mapping(chart / "Chart.yaml").get("dependencies") or []:
        schema = chart / "charts" / dependency["name"] / "values.schema.json"
        if schema.is_file():
            yield dependency.get("alias") or dependency["name"], schema


def component_values(request: RenderRequest, key: str, defaults: Path) -> dict[str, Any]:
    layers = [_mapping(defaults), _mapping(request.chart / "values.yaml").get(key) or {}]
    layers += [_mapping(path).get(key) or {} for path in request.values_files]
    merged: dict[str, Any] = {}
    for layer in layers:
        if isinstance(layer, dict):
            merged = deep_merge(merged, layer)
    typed = [(a, False) for a in request.set_values] + [(a, True) for a in request.set_string_values]
    for assignment, as_string in typed:
        for path, value in parse_set(assignment):
            if path[0] != key or len(path) < 2 or any("[" in part for part in path):
                continue
            nested: Any = str(value) if as_string and value is not None else value
            for part in reversed(path[1:]):
                nested = {part: nested}
            merged = deep_merge(merged, nested)
    return merged


def unknown_keys(request: RenderRequest) -> list[UnknownKey]:
    found = []
    for key, schema_file in subcharts(request.chart):
        schema = json.loads(schema_file.read_text())
        values = component_values(request, key, schema_file.with_name("values.yaml"))
        validator = jsonschema.Draft7Validator(schema)
        for error in validator.iter_errors(values):
            if error.validator != "additionalProperties":
                continue
            path = ".".join(str(p) for p in error.absolute_path)
            found.append(UnknownKey(key, path, error.message))
    return sorted(found, key=str)
