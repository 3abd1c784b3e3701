"""The base of every component's settings model: the chart's values, one-to-one."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SettingsModel(BaseModel):
    """camelCase keys as in the chart's values; an unknown key fails; read-only once loaded."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)
