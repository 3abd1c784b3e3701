"""A Kubernetes object as the API server, helm and YAML files give it: a JSON mapping."""
from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]


def is_ready(obj: Manifest) -> bool:
    """A pod's or node's Ready condition is True."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
