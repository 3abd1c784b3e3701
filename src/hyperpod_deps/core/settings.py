"""The base of every component's settings model (the chart's values, one-to-one), and the one
way a component reads its settings file, with one error type whose message names the file and
each key that does not fit."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

# The chart runs the agents as a non-root user without NET_BIND_SERVICE: a lower port would
# fail to bind at start-up, in the pod's log; refused here (and by the generated chart schema).
FIRST_UNPRIVILEGED_PORT = 1024


class SettingsModel(BaseModel):
    """camelCase keys as in the chart's values; an unknown key fails; read-only once loaded."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class SettingsError(ValueError):
    """The settings file is missing, not YAML, or does not fit the model; the message says where."""


Model = TypeVar("Model", bound=SettingsModel)
Item = TypeVar("Item")


def _each_once(items: tuple[Any, ...]) -> tuple[Any, ...]:
    repeated = sorted({str(item) for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"each item may appear once; repeated: {', '.join(repeated)}")
    return items


def _bindable(port: int) -> int:
    if 0 < port < FIRST_UNPRIVILEGED_PORT:
        raise ValueError(f"port {port} is below {FIRST_UNPRIVILEGED_PORT}, which the agents' non-root user "
                         f"cannot bind; choose {FIRST_UNPRIVILEGED_PORT} to 65535")
    return port


# A list of settings in which a repeat is a mistake (a kind, a signal, a file named twice).
EachOnce = Annotated[tuple[Item, ...], AfterValidator(_each_once),
                     Field(json_schema_extra={"uniqueItems": True})]
# A port an agent listens on.
Port = Annotated[int, Field(ge=1, le=65535, json_schema_extra={"minimum": FIRST_UNPRIVILEGED_PORT}),
                 AfterValidator(_bindable)]
# The same, or 0 for none.
PortOrOff = Annotated[int, Field(ge=0, le=65535, json_schema_extra={"not": {"minimum": 1, "maximum": 1023}}),
                      AfterValidator(_bindable)]


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
