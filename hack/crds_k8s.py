"""Kubernetes' published OpenAPI schemas turned into structural CRD schema nodes.

The source is the JSON-schema form of the Kubernetes OpenAPI document that the
`kubernetes-validate` package bundles (one `_definitions.json` per Kubernetes
version). Those schemas are written for JSON-schema validators, not for the
API server's CRD rules, so every node is rewritten:

- every `$ref` is inlined (CRD schemas cannot refer to anything);
- `["object", "null"]`-style type lists become the single type;
- IntOrString and Quantity (a `oneOf` of string and number) become
  `x-kubernetes-int-or-string: true` with the `anyOf` the API server allows;
- `format`s are kept only where the API server and controller-gen agree;
- extensions a CRD may not carry (patch strategies, unions, GVKs) are dropped;
- `x-kubernetes-list-type: map` is kept only where each map key is required or
  has a default, which the API server demands of CRDs;
- ObjectMeta inside a template becomes the small subset a template may set
  (labels, annotations, name, namespace, finalizers), as controller-gen's
  generateEmbeddedObjectMeta does; the API server ignores the rest.

Descriptions of Kubernetes fields are dropped: with them the five CRDs would
take most of Helm's 1 MiB release budget, and `kubectl explain pod.spec` has them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate

Schema = dict[str, Any]

# The Kubernetes version whose Pod API the CRDs describe. 1.29 is the oldest
# version the chart supports (Chart.yaml kubeVersion) and the k8s.io/api minor
# the training operator v1.8 and MPI operator v0.6 are built with: a pod field
# newer than that would be dropped by the operators' Go types anyway.
KUBERNETES_VERSION = "1.29.0"

_SCHEMA_DIR = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
DEFINITIONS_FILE = _SCHEMA_DIR / f"v{KUBERNETES_VERSION}-local" / "_definitions.json"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"

# Formats the API server knows and controller-gen emits; others ("double")
# would at best be ignored and at worst warned about on every apply.
KEPT_FORMATS = frozenset({"int32", "int64", "date-time", "byte"})

# Defaults the API server needs so that a list map key is always present
# (a key that is neither required nor defaulted makes the CRD invalid).
# Both are the documented defaults of the Pod API.
DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
}

# The same pattern the API server uses to parse a resource.Quantity.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

_KEPT_EXTENSIONS = ("x-kubernetes-map-type",)


@cache
def definitions() -> dict[str, Schema]:
    data: dict[str, Schema] = json.loads(DEFINITIONS_FILE.read_text())["$defs"]
    return data


def int_or_string() -> Schema:
    return {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    }


def quantity() -> Schema:
    return {**int_or_string(), "pattern": QUANTITY_PATTERN}


def string_map() -> Schema:
    return {"type": "object", "additionalProperties": {"type": "string"}}


def embedded_object_meta() -> Schema:
    """The metadata a pod template may carry.

    creationTimestamp is listed because `kubectl create --dry-run -o yaml`
    and many generators write `creationTimestamp: null` into templates, and the API
    server prunes the null of a known field but refuses an unknown one.
    """
    return {
        "type": "object",
        "properties": {
            "annotations": string_map(),
            "creationTimestamp": {"type": "string", "format": "date-time"},
            "finalizers": {"type": "array", "items": {"type": "string"}},
            "labels": string_map(),
            "name": {"type": "string"},
            "namespace": {"type": "string"},
        },
    }


def definition(name: str) -> Schema:
    """The structural schema of one Kubernetes type, every reference inlined."""
    return _convert({"$ref": f"#/$defs/{name}"}, owner="", stack=())


def _ref_name(node: Schema) -> str:
    return str(node["$ref"]).rsplit("/", 1)[-1]


def _convert(node: Schema, owner: str, stack: tuple[str, ...]) -> Schema:
    if "$ref" in node:
        return _convert_ref(_ref_name(node), stack)
    if "oneOf" in node:
        # Only IntOrString and Quantity use oneOf in the Pod API; both accept
        # a number or a string, which is what int-or-string means to a CRD.
        return int_or_string()
    out: Schema = {}
    node_type = node.get("type")
    if isinstance(node_type, list):
        node_type = next(t for t in node_type if t != "null")
    if node_type:
        out["type"] = node_type
    if node.get("format") in KEPT_FORMATS:
        out["format"] = node["format"]
    if "properties" in node:
        out["properties"] = {
            key: _property(owner, key, value, stack) for key, value in sorted(node["properties"].items())
        }
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _convert(node["additionalProperties"], owner, stack)
    if "items" in node:
        out["items"] = _convert(node["items"], owner, stack)
    if node.get("required"):
        out["required"] = sorted(node["required"])
    for extension in _KEPT_EXTENSIONS:
        if extension in node:
            out[extension] = node[extension]
    _list_type(node, out)
    return out


def _property(owner: str, key: str, value: Schema, stack: tuple[str, ...]) -> Schema:
    converted = _convert(value, owner, stack)
    if (owner, key) in DEFAULTS:
        converted["default"] = DEFAULTS[(owner, key)]
    return converted


def _convert_ref(name: str, stack: tuple[str, ...]) -> Schema:
    if name == INT_OR_STRING:
        return int_or_string()
    if name == QUANTITY:
        return quantity()
    if name == OBJECT_META:
        return embedded_object_meta()
    if name == TIME:
        return {"type": "string", "format": "date-time"}
    if name in stack:
        raise ValueError(f"recursive type {' -> '.join((*stack, name))} cannot be inlined")
    return _convert(definitions()[name], owner=name, stack=(*stack, name))


def _list_type(node: Schema, out: Schema) -> None:
    list_type = node.get("x-kubernetes-list-type")
    if not list_type:
        return
    items = out.get("items", {})
    if list_type == "map":
        keys = list(node.get("x-kubernetes-list-map-keys", []))
        properties = items.get("properties", {})
        required = set(items.get("required", []))
        usable = keys and all(
            key in properties and (key in required or "default" in properties[key]) for key in keys
        )
        if not usable:
            return  # without the list type the list is atomic, which is always valid
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = keys
    elif list_type == "set":
        if items.get("type") in ("string", "integer", "number", "boolean"):
            out["x-kubernetes-list-type"] = "set"
    else:
        out["x-kubernetes-list-type"] = list_type
