"""Rule documents: parse, validate and merge the shipped files and users' extra documents.

A document is YAML: `source` (kmsg, nvml, neuron or efa), optional `thresholds` (nvml, neuron,
efa) and `rules`. A file may hold several documents (`---`). In an extra document a rule whose
id is already known overrides it: only the keys it gives change (`action: event`,
`enabled: false`); a new id adds a rule, and then every key is required.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from hyperpod_deps.core.settings import Model, SettingsError, convert
from hyperpod_deps.health.rule_model import Rule, RuleError, RuleSource
from hyperpod_deps.health.thresholds import THRESHOLDS

SOURCES = ("kmsg", "nvml", "neuron", "efa")
_DOCUMENT_KEYS = {"source", "thresholds", "rules"}


@dataclass
class Merged:
    """Every rule by id with its source, in load order, and each source's raw thresholds."""

    rules: dict[str, tuple[str, Rule]] = field(default_factory=dict)
    # Each rule's keys as its documents gave them, which an override of its id builds on.
    given: dict[str, dict[str, Any]] = field(default_factory=dict)
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)


def merge(shipped: Iterable[RuleSource], extra: Iterable[RuleSource]) -> Merged:
    merged = Merged()
    for source in shipped:
        for document in _documents(source):
            _add_document(merged, source.name, document, overrides=False)
    for source in extra:
        for document in _documents(source):
            _add_document(merged, source.name, document, overrides=True)
    for name, raw in merged.thresholds.items():
        _thresholds(name, raw, "thresholds")
    return merged

# libyaml's safe loader where PyYAML was built with it (its wheels are): the shipped rules load
# in a third of the time, and the pure-Python parser's garbage no longer stays in the agent's
# resident memory (about 1 MiB). The same documents and errors either way.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _documents(source: RuleSource) -> list[dict[str, Any]]:
    try:
        loaded = [doc for doc in yaml.load_all(source.text, Loader=_SAFE_LOADER) if doc is not None]
    except yaml.YAMLError as error:
        raise RuleError(f"{source.name}: not valid YAML: {error}") from error
    for index, document in enumerate(loaded):
        if not isinstance(document, dict):
            raise RuleError(f"{source.name}: document {index} is not a mapping")
        unknown = set(document) - _DOCUMENT_KEYS
        if unknown:
            raise RuleError(f"{source.name}: unknown keys {sorted(unknown)}; "
                            f"allowed: {sorted(_DOCUMENT_KEYS)}")
        if document.get("source") not in SOURCES:
            raise RuleError(f"{source.name}: source must be one of {list(SOURCES)}, "
                            f"not {document.get('source')!r}")
        if not isinstance(document.get("rules", []), list):
            raise RuleError(f"{source.name}: rules must be a list")
    return loaded


def _add_document(merged: Merged, name: str, document: dict[str, Any], *, overrides: bool) -> None:
    source = str(document["source"])
    thresholds = document.get("thresholds")
    if thresholds is not None:
        _merge_thresholds(merged, name, source, thresholds)
    seen: set[str] = set()
    for index, raw in enumerate(document.get("rules") or []):
        where = f"{name}: rule {index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise RuleError(f"{where}: a rule is a mapping with a string id")
        rule_id = raw["id"]
        where = f"{name}: rule {index} ({rule_id})"
        if rule_id in seen:
            raise RuleError(f"{where}: duplicate id in the same document")
        seen.add(rule_id)
        known = merged.rules.get(rule_id)
        if known and not overrides:
            raise RuleError(f"{where}: duplicate id, already defined for source {known[0]}")
        if known and known[0] != source:
            raise RuleError(f"{where}: overrides a rule of source {known[0]}, not {source}")
        fields = {**merged.given[rule_id], **raw} if known else raw
        merged.rules[rule_id] = (source, _validated(Rule, fields, where))
        merged.given[rule_id] = fields


def _merge_thresholds(merged: Merged, name: str, source: str, raw: Any) -> None:
    if source not in THRESHOLDS:
        raise RuleError(f"{name}: source {source} has no thresholds")
    if not isinstance(raw, dict):
        raise RuleError(f"{name}: thresholds must be a mapping")
    current = merged.thresholds.setdefault(source, {})
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key] = {**current[key], **value}
        else:
            current[key] = value
    _thresholds(source, current, f"{name}: thresholds")


def _thresholds(source: str, raw: dict[str, Any], where: str) -> None:
    _validated(THRESHOLDS[source], raw, where)


def _validated(model: type[Model], fields: Any, where: str) -> Model:
    try:
        return convert(model, fields)
    except SettingsError as error:
        raise RuleError(f"{where}: {error}") from error
