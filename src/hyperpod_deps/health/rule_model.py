"""One health rule and what it yields, validated as every settings model is (unknown keys are errors)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta

from hyperpod_deps.core.health import Action
from hyperpod_deps.core.settings import SettingsModel

SOURCES = ("kmsg", "nvml", "neuron", "efa")
# Label values: at most 63 characters, CamelCase so they read the same in labels and conditions.
_LABEL_VALUE = r"^[A-Z][A-Za-z0-9]{0,62}$"
_RULE_ID = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


class RuleError(ValueError):
    """A rule file or document is invalid; permanent: fix the file."""


@dataclass(frozen=True)
class RuleSource:
    """A rule document by name (a path or a ConfigMap key, for messages) and its YAML text."""

    name: str
    text: str


@dataclass(frozen=True)
class Match:
    rule: str  # rule id, e.g. xid-79
    fault_type: str
    reason: str
    action: Action
    message: str  # the matched line, trimmed
    source: str = "kmsg"

    @property
    def rule_path(self) -> str:
        """The rule's id qualified by its source, as Fault.rule carries it (kmsg/xid-79)."""
        return f"{self.source}/{self.rule}"


class ActionFrom(SettingsModel, frozen=True):
    """Take the action from a named group of the match, through a mapping (Xid 154)."""

    group: str
    # Keys are compared case-insensitively; a value not in the map keeps the rule's action.
    map: dict[str, Action]


class Rule(SettingsModel, frozen=True, dict=True):
    id: Annotated[str, Meta(pattern=_RULE_ID)]
    description: Annotated[str, Meta(min_length=1)]
    match: Annotated[str, Meta(min_length=1)]
    fault_type: Annotated[str, Meta(pattern=_LABEL_VALUE)]
    reason: Annotated[str, Meta(pattern=_LABEL_VALUE)]
    action: Action
    escalation: Action | None = None
    action_from: ActionFrom | None = None
    priority: int = 100
    enabled: bool = True
    # Where the line format was seen: a public URL, or a repository path such as
    # torvalds/linux drivers/pci/pcie/aer.c. Optional for users' rules; the shipped hand-written
    # rules all name one, so a reviewer can check a pattern against the text it claims to match.
    seen_in: Annotated[str, Meta(min_length=1)] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            regex = re.compile(self.match)
        except re.error as error:
            raise ValueError(f"match is not a valid regular expression: {error}") from error
        if self.action_from and self.action_from.group not in regex.groupindex:
            raise ValueError(f"actionFrom.group {self.action_from.group!r} is not a named group of match")
        if self.escalation not in (None, Action.REPLACE, Action.REBOOT):
            raise ValueError("escalation must be replace or reboot")
        # Frozen, so the compiled pattern goes beside the fields (dict=True), not into one.
        self.__dict__["_regex"] = regex

    @property
    def regex(self) -> re.Pattern[str]:
        pattern: re.Pattern[str] = self.__dict__["_regex"]
        return pattern

    def resolve(self, found: re.Match[str]) -> Action:
        """The action of this match: the rule's, or the one named in the line (actionFrom)."""
        if self.action_from is None:
            return self.action
        named = (found.group(self.action_from.group) or "").strip().casefold()
        table = {key.strip().casefold(): action for key, action in self.action_from.map.items()}
        return table.get(named, self.action)
