"""Health label values, their order, and the formats the agent writes (pure)."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hyperpod_deps.core import wire

# The order a label value may only move up in, unless a person or a recovery moves it down.
RANK = {wire.SCHEDULABLE: 0, wire.UNSCHEDULABLE: 1, wire.UNSCHEDULABLE_PENDING_REBOOT: 2,
        wire.UNSCHEDULABLE_PENDING_REPLACEMENT: 3}
# Values that are commands (a person's or the agent's): reboot or replace this node.
COMMANDS = (wire.UNSCHEDULABLE_PENDING_REBOOT, wire.UNSCHEDULABLE_PENDING_REPLACEMENT)

_INVALID = re.compile(r"[^A-Za-z0-9._-]+")


def rank(value: str | None) -> int:
    """A missing label ranks as Schedulable; an unknown Unschedulable* value as Unschedulable."""
    if value in RANK:
        return RANK[value]
    return RANK[wire.UNSCHEDULABLE] if wire.is_unschedulable(value) else 0


def stronger(current: str | None, wanted: str) -> str:
    """`wanted`, unless the current value is already a stronger command (never downgrade)."""
    return current if current is not None and rank(current) > rank(wanted) else wanted


def is_command(value: str | None) -> bool:
    return value in COMMANDS


def label_value(text: str) -> str:
    """Anything as a valid label value (at most 63 characters, alphanumeric at both ends)."""
    return _INVALID.sub("-", text)[:63].strip("-_.") or "Unknown"


def timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dump_details(details: list[dict[str, str]]) -> str:
    return json.dumps(details, separators=(",", ":"))
