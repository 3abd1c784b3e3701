"""Values files read strictly, before helm sees them.

helm takes a values file whose top level is a list or a scalar, and one with a key written
twice (the last wins), without a word: the settings are then silently not what the file
says. These checks refuse both, naming the file, and the key and its lines.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ValuesFileError(ValueError):
    """A values file helm would read differently from what it says."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key written twice."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ValuesFileError(f"key {key!r} appears twice (lines {seen[key]} and {line})")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def check_values_file(path: Path) -> None:
    """Raise ValuesFileError unless `path` is one YAML mapping (or empty) with no key repeated."""
    try:
        document = yaml.load(path.read_text(), Loader=_StrictLoader)
    except ValuesFileError as error:
        raise ValuesFileError(f"values file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise ValuesFileError(f"values file {path} is not valid YAML: {error}") from error
    if document is not None and not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else f"a {type(document).__name__} ({document!r})"
        raise ValuesFileError(
            f"values file {path} must be a mapping of settings (key: value), not {kind}")
