"""A Kubernetes object as the API server, helm and YAML files give it: a JSON mapping."""
from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]
