"""Which simulated HyperPod nodes a local cluster gets, and the Node objects that describe them.

A node spec file looks like:

    region: us-west-2
    instanceGroups:
      - name: p5-workers          # optional; defaults to the type, e.g. p5-48xlarge
        instanceType: ml.p5.48xlarge
        count: 2
        zone: us-west-2a          # optional; groups are spread over the region's zones
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from hyperpod_deps.core.wire import INSTANCE_TYPE_LABEL, NODE_HEALTH_LABEL
from hyperpod_deps.localcluster.instances import shape

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"
INSTANCE_GROUP_LABEL = "sagemaker.amazonaws.com/instance-group-name"
COMPUTE_TYPE_LABEL = "sagemaker.amazonaws.com/compute-type"
DEFAULT_REGION = "us-west-2"
PODS_PER_NODE = 110
# Benchmarks run thousands of nodes; beyond this a typo (an extra zero) is more likely than intent.
MAX_GROUP_NODES = 5000

# The default mix: H100 training nodes, a small GPU node, Trainium, and a CPU node.
DEFAULT_GROUPS: tuple[tuple[str, int], ...] = (
    ("ml.p5.48xlarge", 2),
    ("ml.g5.8xlarge", 1),
    ("ml.trn1.32xlarge", 1),
    ("ml.m5.2xlarge", 1),
)


class NodeSpecError(ValueError):
    """The node spec (file or flags) is not valid; the message says where and why."""


@dataclass(frozen=True)
class InstanceGroup:
    name: str
    instance_type: str
    count: int
    zone: str


@dataclass(frozen=True)
class NodeSpec:
    region: str
    groups: tuple[InstanceGroup, ...]


def default_spec(region: str = DEFAULT_REGION) -> NodeSpec:
    return from_pairs(DEFAULT_GROUPS, region)


def from_pairs(pairs: Iterable[tuple[str, int]], region: str = DEFAULT_REGION) -> NodeSpec:
    return _spec(region, [{"instanceType": t, "count": c} for t, c in pairs], "flags")


def parse_flag(value: str) -> tuple[str, int]:
    """`ml.p5.48xlarge=2` or `ml.p5.48xlarge` (one node)."""
    instance_type, _, count = value.partition("=")
    try:
        return instance_type.strip(), int(count) if count else 1
    except ValueError:
        raise NodeSpecError(f"--node {value!r}: the count after '=' must be a number") from None


def parse(text: str, source: str = "node spec") -> NodeSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise NodeSpecError(f"{source}: not YAML: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("instanceGroups"), list):
        raise NodeSpecError(f"{source}: expected a mapping with an `instanceGroups` list")
    unknown = set(data) - {"region", "instanceGroups"}
    if unknown:
        raise NodeSpecError(f"{source}: unknown keys {sorted(unknown)} (allowed: region, instanceGroups)")
    return _spec(str(data.get("region", DEFAULT_REGION)), data["instanceGroups"], source)


def _spec(region: str, entries: list[Any], source: str) -> NodeSpec:
    groups = [_group(entry, region, index, source) for index, entry in enumerate(entries)]
    if not groups:
        raise NodeSpecError(f"{source}: no instance groups")
    names = [g.name for g in groups]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise NodeSpecError(f"{source}: instance group names repeat: {duplicates}; give each a `name`")
    return NodeSpec(region, tuple(groups))


_ALLOWED = {"name", "instanceType", "count", "zone"}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _group(entry: Any, region: str, index: int, source: str) -> InstanceGroup:
    where = f"{source}: instanceGroups[{index}]"
    if not isinstance(entry, dict) or "instanceType" not in entry:
        raise NodeSpecError(f"{where}: expected a mapping with `instanceType`")
    unknown = set(entry) - _ALLOWED
    if unknown:
        raise NodeSpecError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_ALLOWED)})")
    instance_type = str(entry["instanceType"])
    try:
        shape(instance_type)
    except ValueError as error:
        raise NodeSpecError(f"{where}: {error}") from error
    count = entry.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_GROUP_NODES:
        raise NodeSpecError(
            f"{where}: count must be a whole number from 1 to {MAX_GROUP_NODES}, not {count!r}")
    name = str(entry.get("name") or instance_type.removeprefix("ml.").replace(".", "-"))
    if not _DNS_LABEL.match(name):
        raise NodeSpecError(f"{where}: name {name!r} must be lowercase letters, digits and '-'")
    zone = str(entry.get("zone") or f"{region}{'abcd'[index % 4]}")
    return InstanceGroup(name, instance_type, count, zone)


def node_names(cluster: str, group: InstanceGroup) -> list[str]:
    """HyperPod-style names (hyperpod-i-<17 hex>), stable for a cluster, group and index."""
    names = []
    for index in range(group.count):
        digest = hashlib.sha256(f"{cluster}/{group.name}/{index}".encode()).hexdigest()
        names.append(f"hyperpod-i-0{digest[:16]}")
    return names


def node_objects(cluster: str, spec: NodeSpec) -> list[dict[str, Any]]:
    return [node_object(name, group, spec.region)
            for group in spec.groups for name in node_names(cluster, group)]


def _memory(gib: int) -> str:
    """In the API server's canonical form (2048Gi is stored as 2Ti), so specs compare equal."""
    return f"{gib // 1024}Ti" if gib % 1024 == 0 else f"{gib}Gi"


def node_object(name: str, group: InstanceGroup, region: str) -> dict[str, Any]:
    """A Node that kwok manages: it marks it Ready and keeps its lease, and runs its pods."""
    facts = shape(group.instance_type)
    capacity = {
        "cpu": str(facts.vcpus),
        "memory": _memory(facts.memory_gib),
        "pods": str(PODS_PER_NODE),
        "ephemeral-storage": "500Gi",
        **facts.extended_resources(),
    }
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        INSTANCE_TYPE_LABEL: group.instance_type,
        NODE_HEALTH_LABEL: "Schedulable",
        INSTANCE_GROUP_LABEL: group.name,
        COMPUTE_TYPE_LABEL: "hyperpod",
        "topology.kubernetes.io/region": region,
        "topology.kubernetes.io/zone": group.zone,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE,
                            "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }
