"""Operators the chart needs but does not install: NVIDIA's GPU operator and cert-manager.

Pure: what the rendered objects and the user's values ask for goes in; `Requirement`s (a CRD
that must exist, and the command that installs what defines it) come out. chart/cluster.py
asks the cluster for the CRDs; chart/preflight.py turns a missing one into a prerequisite.

The GPU operator's requirement is declared by the chart itself, as annotations on the MIG
ConfigMap it renders (the command there carries the regional registries the template
chose). cert-manager renders nothing, so its requirement comes from the values:
`cert-manager.enabled`, merged the way helm merges them (subchart defaults, the umbrella's,
each --values file, then --set).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hyperpod_deps.core.manifest import Manifest

REQUIRES_CRD_ANNOTATION = "hyperpod-deps/requires-crd"
INSTALL_COMMAND_ANNOTATION = "hyperpod-deps/install-command"
COMPONENT_LABEL = "app.kubernetes.io/component"
CERT_MANAGER = "cert-manager"
CERT_MANAGER_CRD = "certificates.cert-manager.io"


@dataclass(frozen=True)
class Requirement:
    component: str
    crd: str  # the CRD whose presence means the operator is installed
    install_command: str


def rendered_requirements(objects: Iterable[Manifest]) -> list[Requirement]:
    """Requirements the chart declares on what it renders (hyperpod-deps/requires-crd)."""
    found = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        crd = annotations.get(REQUIRES_CRD_ANNOTATION)
        if crd:
            component = str((meta.get("labels") or {}).get(COMPONENT_LABEL, "-"))
            command = str(annotations.get(INSTALL_COMMAND_ANNOTATION, ""))
            found.append(Requirement(component, str(crd), command))
    return found


def cert_manager_requirement(values: Mapping[str, Any]) -> Requirement | None:
    """cert-manager's CRD, when the effective `cert-manager` values turn it on."""
    if values.get("enabled") is not True:
        return None
    return Requirement(CERT_MANAGER, CERT_MANAGER_CRD, cert_manager_install_command(values))


def cert_manager_install_command(values: Mapping[str, Any]) -> str:
    """The same command as the chart's cert-manager.installCommand (a chart test compares them)."""
    chart = values.get("installChart") or {}
    namespace = str(values.get("namespace") or CERT_MANAGER)
    leader_election = ((values.get("global") or {}).get("leaderElection") or {}).get("namespace") or namespace
    crds = (values.get("crds") or {}).get("enabled") is not False
    return (f"helm install {chart.get('release', CERT_MANAGER)} {chart.get('chart')} --version "
            f"{chart.get('version')} --namespace {namespace} --create-namespace "
            f"--set crds.enabled={str(crds).lower()} --set global.leaderElection.namespace={leader_election}")


def effective_section(chart: Path, key: str, values_files: Sequence[Path],
                      set_values: Sequence[str]) -> dict[str, Any]:
    """One component's values as helm computes them, for a component embedded as charts/<key>."""
    layers = [_load(chart / "charts" / key / "values.yaml"), _load(chart / "values.yaml").get(key) or {}]
    layers += [_load(path).get(key) or {} for path in values_files]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    for assignment in set_values:
        for path, value in parse_set(assignment):
            if path[0] == key and len(path) > 1:
                merged = deep_merge(merged, _nest(path[1:], value))
    return merged


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; anything else in `override` replaces (helm's rule; null deletes)."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_set(assignment: str) -> list[tuple[list[str], Any]]:
    """`a.b=true,c=1` as helm's --set reads it: pairs split on unescaped commas, typed values.

    Enough for the plain keys read here; list indices (`a[0]`) and escaped dots are taken
    literally, so such keys simply match nothing.
    """
    pairs, current, escaped = [], "", False
    for char in assignment:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == ",":
            pairs.append(current)
            current = ""
        else:
            current += char
    pairs.append(current)
    parsed = []
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if sep and key:
            parsed.append((key.split("."), _typed(raw)))
    return parsed


def _typed(raw: str) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "null":
        return None
    try:
        return int(raw)
    except ValueError:
        return raw


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    nested: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        nested = {key: nested}
    return nested


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else {}
