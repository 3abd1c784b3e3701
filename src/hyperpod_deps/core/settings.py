"""The base of every component's settings model (the chart's values, one-to-one), and the one
way a component reads its settings file, with one error type whose message names the file and
each key that does not fit."""
from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


class SettingsModel(BaseModel):
    """camelCase keys as in the chart's values; an unknown key fails; read-only once loaded."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class SettingsError(ValueError):
    """The settings file is missing, not YAML, or does not fit the model; the message says where."""


Model = TypeVar("Model", bound=SettingsModel)


def load_model(model: type[Model], path: Path | None, what: str) -> Model:
    """`path` read as YAML into `model` (its defaults without a file). `what` names the settings
    in an error, e.g. "the agent's settings"."""
    data: object = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise SettingsError(f"{path}: cannot read {what}: {error}") from error
    source = str(path) if path else "the default settings"
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected a mapping of settings, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise SettingsError(f"{source}: {describe(error)}") from error


def describe(error: ValidationError) -> str:
    """Each problem as `dotted.key: what is wrong`, joined on one line."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{key}: {item['msg']}")
    return "; ".join(problems)
