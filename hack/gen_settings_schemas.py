#!/usr/bin/env python3
"""Generate, from the agents' settings models (msgspec structs), the parts of the chart that feed them.

- job-auto-restart's values.schema.json, `controller`: the keys the chart hands to
  hyperpod_deps.autorestart.settings.ControllerSettings;
- health-monitoring-agent's values.schema.json, `openAgent.config`: hyperpod_deps.health.settings;
- job-auto-restart's templates/_job_kinds.tpl: the job kinds the controller leaves to the
  platform, as ControllerSettings.handled_kinds() decides them, which the chart's RBAC, admission
  policy and NOTES take; and each kind's resource name (its plural) for the RBAC.

Only those keys are written; the chart's own keys beside them (replicas, image, ...) are kept as
they are, and must be named in CHART_ONLY, so a key the model drops cannot linger in the
schema. Where the chart is stricter than the model for a reason of its own (paths its pods
mount), the keywords it adds are in CHART_RULES. Run with --check to fail (exit 1) when the
committed files differ from what the models produce.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_type_hints

import msgspec.inspect as spec
from generated import ROOT, write_or_check_all

from hyperpod_deps.autorestart.jobkinds import BY_KIND
from hyperpod_deps.autorestart.settings import ALL_KINDS, ControllerSettings
from hyperpod_deps.core.settings import SettingsModel, convert
from hyperpod_deps.health.settings import Settings

CHARTS = ROOT / "helm_chart/HyperPodHelmChart/charts"
KINDS_TEMPLATE = CHARTS / "job-auto-restart/templates/_job_kinds.tpl"
Schema = dict[str, Any]


@dataclass(frozen=True)
class Part:
    schema_file: Path
    at: tuple[str, ...]  # the values keys down to the object the model reads
    model: type[SettingsModel]
    set_by_chart: frozenset[str]  # model keys the templates fill in; no value sets them
    chart_only: frozenset[str] = frozenset()  # values keys beside the model's, dotted
    chart_rules: dict[str, Schema] = field(default_factory=dict)  # dotted key ([] = its items)


PARTS = (
    Part(
        CHARTS / "job-auto-restart/values.schema.json",
        ("controller",),
        ControllerSettings,
        set_by_chart=frozenset({"platform", "leaderElection.leaseName", "leaderElection.leaseNamespace",
                                "metrics.bindAddress"}),
        chart_only=frozenset({"enabled", "replicas", "image", "imagePullSecrets", "deletePolicy",
                              "networkPolicy", "metrics.service", "resources", "nodeSelector",
                              "tolerations", "affinity", "priorityClassName", "podAnnotations"}),
        chart_rules={"blastRadius": {"description": (
            "Within windowSeconds, restart at most maxJobPercent of the opted-in jobs and act on at most "
            "maxNodePercent of the nodes (never fewer than minJobs, minNodes).")}},
    ),
    Part(
        CHARTS / "health-monitoring-agent/values.schema.json",
        ("openAgent", "config"),
        Settings,
        set_by_chart=frozenset({"nodeName", "platform", "extraRuleFiles", "stateDir", "hostRoot"}),
        # The pod mounts the host's /var/log and /run/log/journal read-only, nothing else.
        chart_rules={
            "sources.journal.path": {
                "pattern": "^/(var|run)/log/",
                "description": ("The host's journal folder: under /var/log (mounted read-only), "
                                "or /run/log/journal.")},
            "sources.kmsg.path": {"pattern": "^/"},
            "sources.logFiles.paths[]": {
                "pattern": "^/var/log/",
                "description": "A file under /var/log (the host's, mounted read-only)."},
            "sources.logFiles.trustKernelTag": {
                "description": "Lines tagged kernel act; anyone who can write to syslog can forge them."},
        },
    ),
)


# msgspec's constraint names -> JSON schema keywords (draft 7, as helm validates values).
_KEYWORDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum",
             "min_length": "minLength", "max_length": "maxLength", "pattern": "pattern"}
_ARRAY_KEYWORDS = {"min_length": "minItems", "max_length": "maxItems"}
_SCALARS = {spec.BoolType: "boolean", spec.IntType: "integer", spec.FloatType: "number",
            spec.StrType: "string"}


def draft07(info: spec.Type) -> Schema:
    """The JSON schema of one msgspec type, every reference inlined, no titles or defaults: the
    constraints only, so helm refuses what the model would."""
    if isinstance(info, spec.Metadata):
        return {**draft07(info.type), **(info.extra_json_schema or {})}
    if isinstance(info, spec.StructType):
        return {"additionalProperties": False, "type": "object",
                "properties": {field.encode_name: draft07(field.type) for field in info.fields},
                **({"required": required} if (required := [f.encode_name for f in info.fields if f.required])
                   else {})}
    if isinstance(info, spec.LiteralType):
        return {"enum": list(info.values), "type": "string"}
    if isinstance(info, spec.VarTupleType | spec.ListType):
        return {"items": draft07(info.item_type), "type": "array", **_constraints(info, _ARRAY_KEYWORDS)}
    if isinstance(info, spec.CustomType) and info.cls is Path:
        return {"type": "string"}
    if type(info) in _SCALARS:
        return {"type": _SCALARS[type(info)], **_constraints(info, _KEYWORDS)}
    raise TypeError(f"no JSON schema for {info!r}: add it to {__file__}")


def _constraints(info: spec.Type, keywords: dict[str, str]) -> Schema:
    return {keyword: getattr(info, name) for name, keyword in keywords.items()
            if getattr(info, name, None) is not None}


def model_schema(part: Part) -> Schema:
    schema: Schema = _sorted_keywords(draft07(spec.type_info(part.model)))
    for dotted in part.set_by_chart:
        *parents, last = dotted.split(".")
        _node(schema, parents)["properties"].pop(last)
    for dotted, keywords in part.chart_rules.items():
        _node(schema, dotted.split(".")).update(keywords)
    return schema


def _sorted_keywords(node: Any) -> Any:
    """Keywords in alphabetical order, properties in the model's: the file reads the same each run."""
    if isinstance(node, list):
        return [_sorted_keywords(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {key: ({name: _sorted_keywords(sub) for name, sub in node[key].items()} if key == "properties"
                  else _sorted_keywords(node[key])) for key in sorted(node)}


def _node(schema: Schema, keys: list[str]) -> Schema:
    for key in keys:
        schema = schema["properties"][key[:-2]]["items"] if key.endswith("[]") else schema["properties"][key]
    return schema


def merged(current: Schema, generated: Schema, part: Part, where: str = "") -> Schema:
    """`generated`, with the chart's own keys of `current` kept in their places."""
    have, made = current.get("properties", {}), generated["properties"]
    properties: Schema = {}
    for key, sub in have.items():
        dotted = f"{where}.{key}" if where else key
        if key in made:
            inner = any(own.startswith(dotted + ".") for own in part.chart_only)
            properties[key] = merged(sub, made[key], part, dotted) if inner else made[key]
        elif dotted in part.chart_only:
            properties[key] = sub
        else:
            sys.exit(f"{part.schema_file.relative_to(ROOT)}: {'.'.join(part.at)}.{dotted} is neither a field "
                     f"of {part.model.__name__} nor one of the chart's own keys (CHART_ONLY in {__file__})")
    properties.update({key: sub for key, sub in made.items() if key not in properties})
    return {**generated, "properties": properties}


def schema_file(part: Part) -> str:
    document = json.loads(part.schema_file.read_text())
    parent = document
    for key in part.at[:-1]:
        parent = parent["properties"][key]
    current = parent["properties"][part.at[-1]]
    missing = [key for key in part.chart_only if not _has(current, key.split("."))]
    if missing:
        sys.exit(f"{part.schema_file.relative_to(ROOT)}: CHART_ONLY names keys it lacks: {sorted(missing)}")
    parent["properties"][part.at[-1]] = merged(current, model_schema(part), part)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _has(schema: Schema, keys: list[str]) -> bool:
    for key in keys:
        inner = (schema.get("properties") or {}).get(key)
        if inner is None:
            return False
        schema = inner
    return True


def kinds_left_alone() -> dict[str, dict[str, list[str]]]:
    """platform -> handlePyTorchJobsOnHyperPod ("true"/"false") -> the kinds the controller
    leaves alone, asked of the model itself."""
    table: dict[str, dict[str, list[str]]] = {}
    for platform in get_args(get_type_hints(ControllerSettings)["platform"]):
        for switch in (False, True):
            settings = convert(ControllerSettings, {"platform": platform, "kinds": list(ALL_KINDS),
                                                    "handlePyTorchJobsOnHyperPod": switch})
            handled = settings.handled_kinds()
            table.setdefault(platform, {})[str(switch).lower()] = [k for k in ALL_KINDS if k not in handled]
    return table


def kinds_template() -> str:
    plurals = {kind: BY_KIND[kind].plural for kind in ALL_KINDS}
    return (
        "{{/*\nGENERATED by hack/gen_settings_schemas.py from hyperpod_deps.autorestart\n"
        "(settings.ControllerSettings.handled_kinds() and jobkinds.BY_KIND). Do not\n"
        "edit: change the model and run `make generate`.\n*/}}\n\n"
        "{{/* kind -> the kubeflow.org resource (plural) RBAC names. */}}\n"
        '{{- define "job-auto-restart.plurals" -}}\n'
        + json.dumps(plurals, separators=(",", ":"))
        + "\n{{- end -}}\n\n"
        "{{/* global.platform -> controller.handlePyTorchJobsOnHyperPod -> the job kinds\n"
        "the controller leaves to the platform. */}}\n"
        '{{- define "job-auto-restart.kindsLeftAlone" -}}\n'
        + json.dumps(kinds_left_alone(), separators=(",", ":"))
        + "\n{{- end -}}\n"
    )


def main() -> int:
    expected = {part.schema_file: schema_file(part) for part in PARTS}
    expected[KINDS_TEMPLATE] = kinds_template()
    return write_or_check_all(__doc__, expected)


if __name__ == "__main__":
    sys.exit(main())
