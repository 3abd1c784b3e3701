"""helm's schema errors, said in words.

helm reports a failed pattern as the bare regular expression, and a number given for a string
as a type mismatch. Each such line gets the field's own description from the schema that
refused it and, for a number where a string belongs, the --set-string that keeps it a string.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^(?P<chart>[A-Za-z0-9_.-]+):$")
_ITEM = re.compile(r"^- (?P<path>[^:]+): (?P<problem>.*)$")
_NUMBER_FOR_STRING = re.compile(r"Invalid type\. Expected: string, given: (integer|number)")


def _field(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node: dict[str, Any] = schema
    for part in path.split("."):
        node = (node.get("properties") or {}).get(part) or {}
    return node


def _schema_of(chart: Path, name: str) -> dict[str, Any]:
    umbrella = chart / "values.schema.json"
    candidates = [chart / "charts" / name / "values.schema.json", umbrella]
    for candidate in candidates:
        if candidate.is_file() and (candidate != umbrella or _chart_name(chart) == name):
            loaded: dict[str, Any] = json.loads(candidate.read_text())
            return loaded
    return {}


def _chart_name(chart: Path) -> str:
    for line in (chart / "Chart.yaml").read_text().splitlines():
        if line.startswith("name:"):
            return line.partition(":")[2].strip()
    return ""


def explain(message: str, chart: Path) -> str:
    """`message` with a line of plain words under each pattern or string-type failure."""
    lines: list[str] = []
    schema: dict[str, Any] = {}
    for line in message.splitlines():
        lines.append(line)
        header = _HEADER.match(line.strip())
        if header:
            schema = _schema_of(chart, header["chart"])
            continue
        item = _ITEM.match(line.strip())
        if not item:
            continue
        path, problem = item["path"], item["problem"]
        description = _field(schema, path).get("description")
        if problem.startswith("Does not match pattern") and description:
            lines.append(f"  {path} must be {description[0].lower()}{description[1:]}"
                         if not description.startswith(path) else f"  {description}")
        elif _NUMBER_FOR_STRING.search(problem):
            lines.append(f"  {path} is a string: helm's --set reads digits as a number; "
                         f"use --set-string {path}=<value> (or quote it in a values file)")
    return "\n".join(lines)
