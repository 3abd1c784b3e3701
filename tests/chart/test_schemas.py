"""Every chart's values.schema.json is strict, and its own defaults satisfy it."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.charts import CHART, SUBCHARTS

APPLICATION_CHARTS = sorted(
    path for path in SUBCHARTS.iterdir()
    if (path / "Chart.yaml").is_file()
    and yaml.safe_load((path / "Chart.yaml").read_text()).get("type") != "library"
)
ALL_CHARTS = [CHART, *APPLICATION_CHARTS]


def schema_of(chart: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((chart / "values.schema.json").read_text())
    return schema


def object_nodes(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema that declares properties, with its JSON pointer."""
    if isinstance(node, dict):
        if "properties" in node:
            yield path, node
        for key, child in node.items():
            yield from object_nodes(child, f"{path}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from object_nodes(child, f"{path}/{index}")


@pytest.mark.parametrize("chart", APPLICATION_CHARTS, ids=lambda p: p.name)
def test_subchart_schema_accepts_what_helm_injects(chart: Path) -> None:
    properties = schema_of(chart)["properties"]
    assert "global" in properties
    assert "enabled" in properties or "devicePlugin" in properties


@pytest.mark.parametrize("chart", ALL_CHARTS, ids=lambda p: p.name)
def test_every_object_with_known_keys_forbids_others(chart: Path) -> None:
    loose = [path for path, node in object_nodes(schema_of(chart))
             if node.get("additionalProperties") is not False
             and not path.endswith("/properties/global") and "/definitions/component" not in path
             and "/definitions/devicePluginComponent" not in path]
    # The umbrella's component entries are checked in depth by each subchart's own schema.
    assert not loose, f"objects that accept unknown keys: {loose}"


@pytest.mark.parametrize("chart", ALL_CHARTS, ids=lambda p: p.name)
def test_the_charts_own_defaults_are_valid(chart: Path) -> None:
    schema = schema_of(chart)
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load((chart / "values.yaml").read_text()) or {}, schema)
