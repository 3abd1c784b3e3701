"""The base of every component's settings model (the chart's values, one-to-one) and of the
health rule files, and the one way YAML becomes one: msgspec structs, converted strictly, with
one error type whose message names the file and the key that does not fit.

msgspec rather than pydantic (decision 17): the node agent runs on every node, and pydantic
alone held a quarter of its resident memory (11 MiB against msgspec's 0.7).
"""
from __future__ import annotations

import enum
import re
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
import yaml

# The chart runs the agents as a non-root user without NET_BIND_SERVICE: a lower port would
# fail to bind at start-up, in the pod's log; refused here (and by the generated chart schema).
FIRST_UNPRIVILEGED_PORT = 1024


class SettingsError(ValueError):
    """The settings file is missing, not YAML, or does not fit the model; the message says where."""


class Check:
    """A rule on one field that a JSON-schema keyword cannot express in msgspec, kept in the
    field's annotation and run when a model is built (`SettingsModel.__post_init__`)."""

    def __init__(self, test: Callable[[Any], None]) -> None:
        self.test = test


class SettingsModel(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """camelCase keys as in the chart's values; an unknown key fails; read-only once loaded.
    A subclass repeats `frozen=True` (type checkers read it per class) and, with a
    `__post_init__` of its own, calls this one first."""

    def __post_init__(self) -> None:
        for name, key, check in _checks(type(self)):
            try:
                check.test(getattr(self, name))
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None


Model = TypeVar("Model", bound=SettingsModel)
Item = TypeVar("Item")


@cache
def _checks(model: type[SettingsModel]) -> tuple[tuple[str, str, Check], ...]:
    hints = typing.get_type_hints(model, include_extras=True)
    keys = dict(zip(model.__struct_fields__, model.__struct_encode_fields__, strict=True))
    return tuple((name, keys[name], extra) for name in model.__struct_fields__
                 for extra in getattr(hints[name], "__metadata__", ()) if isinstance(extra, Check))


def _each_once(items: tuple[Any, ...]) -> None:
    repeated = sorted({str(item) for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"each item may appear once; repeated: {', '.join(repeated)}")


def _bindable(port: int) -> None:
    if 0 < port < FIRST_UNPRIVILEGED_PORT:
        raise ValueError(f"port {port} is below {FIRST_UNPRIVILEGED_PORT}, which the agents' non-root user "
                         f"cannot bind; choose {FIRST_UNPRIVILEGED_PORT} to 65535")


# A list of settings in which a repeat is a mistake (a kind, a signal, a file named twice).
EachOnce = Annotated[tuple[Item, ...], msgspec.Meta(extra_json_schema={"uniqueItems": True}),
                     Check(_each_once)]
# A port an agent listens on.
Port = Annotated[int, msgspec.Meta(ge=1, le=65535, extra_json_schema={"minimum": FIRST_UNPRIVILEGED_PORT}),
                 Check(_bindable)]
# The same, or 0 for none.
PortOrOff = Annotated[int, msgspec.Meta(ge=0, le=65535,
                                        extra_json_schema={"not": {"minimum": 1, "maximum": 1023}}),
                      Check(_bindable)]


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise ValueError(f"Expected `{kind.__name__}`, got `{type(value).__name__}`")


def convert(model: type[Model], data: object) -> Model:
    """`data` (YAML's or JSON's objects) as `model`; SettingsError with `describe`'s text if it
    does not fit. Only the keys' camelCase names are accepted."""
    try:
        return msgspec.convert(data, model, dec_hook=_decode_path)
    except msgspec.ValidationError as error:
        raise SettingsError(describe(error, model, data)) from error


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
        return convert(model, data)
    except SettingsError as error:
        raise SettingsError(f"{source}: {error}") from error


_AT = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_FIELD = re.compile(r"^Object (?P<what>contains unknown|missing required) field `(?P<key>[^`]+)`$")
_KEYED = re.compile(r"^(?P<key>[A-Za-z0-9]+): (?P<message>.*)$", re.DOTALL)


def describe(error: msgspec.ValidationError, model: type, data: object) -> str:
    """The problem as `dotted.key: what is wrong` (msgspec stops at the first one)."""
    found = _AT.match(str(error))
    message, path = (found["message"], found["path"]) if found else (str(error), "")
    try:
        keys, kind = _keys(path, model, data)
    except (KeyError, IndexError, TypeError, AttributeError):  # a path the walk cannot follow: as written
        keys, kind = [path.lstrip(".")] if path else [], None
    field = _FIELD.match(message)
    keyed = _KEYED.match(message)
    if field:
        keys.append(field["key"])
        message = "unknown key" if field["what"] == "contains unknown" else "required"
    elif keyed:  # a Check's or a model's own message, which names its key
        keys.append(keyed["key"])
        message = keyed["message"]
    elif message.startswith("Invalid enum value") and (choices := _choices(_inner(kind))):
        message += "; expected one of: " + ", ".join(choices)
    return f"{'.'.join(keys) or '(top level)'}: {message}"


def _keys(path: str, kind: Any, data: Any) -> tuple[list[str], Any]:
    """msgspec's path (`.sources.logFiles.paths[0]`) as keys; a mapping's key, which msgspec
    leaves out (`[...]`), is found again as the first entry that does not convert."""
    keys = []
    for name, index in _STEP.findall(path):
        kind = _inner(kind)
        if name:  # a field of a struct, by its camelCase name
            hints = typing.get_type_hints(kind, include_extras=True)
            kind = hints[dict(zip(kind.__struct_encode_fields__, kind.__struct_fields__, strict=True))[name]]
            data = data.get(name) if isinstance(data, dict) else None
        elif index == "...":
            kind = typing.get_args(_inner(kind))[1]
            key, data = _first_failing(data, kind) if isinstance(data, dict) else ("...", None)
            name = key
        else:
            kind = typing.get_args(_inner(kind))[0]
            data = data[int(index)] if isinstance(data, list) and int(index) < len(data) else None
            name = index
        keys.append(name)
    return keys, kind


def _choices(kind: Any) -> list[str]:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return [str(member.value) for member in kind]
    return [str(value) for value in typing.get_args(kind)]


def _inner(kind: Any) -> Any:
    """The type itself: Annotated's metadata and an optional None taken off."""
    while typing.get_origin(kind) is Annotated or type(None) in typing.get_args(kind):
        kind = (typing.get_args(kind)[0] if typing.get_origin(kind) is Annotated
                else next(arg for arg in typing.get_args(kind) if arg is not type(None)))
    return kind


def _first_failing(mapping: dict[Any, Any], kind: Any) -> tuple[str, Any]:
    for key, value in mapping.items():
        try:
            msgspec.convert(value, kind, dec_hook=_decode_path)
        except msgspec.ValidationError:
            return str(key), value
    return "...", None
