"""What a render contains: objects grouped by component, images, placements.

Pure functions over rendered manifests; no helm, no I/O.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain import agents_image

COMPONENT_LABEL = "app.kubernetes.io/component"
INSTANCE_TYPE_KEY = "node.kubernetes.io/instance-type"
WORKLOAD_KINDS = ("Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "ReplicaSet", "Pod")


@dataclass
class ComponentInventory:
    name: str
    objects_by_kind: Counter[str] = field(default_factory=Counter)
    namespaces: set[str] = field(default_factory=set)
    images: set[str] = field(default_factory=set)
    # DaemonSet name -> the instance types its required node affinity allows.
    placements: dict[str, list[str]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.objects_by_kind)


def component_of(obj: Manifest) -> str:
    labels = obj.get("metadata", {}).get("labels") or {}
    return str(labels.get(COMPONENT_LABEL) or "unlabelled")


def pod_spec(obj: Manifest) -> dict[str, Any] | None:
    """The pod spec of a workload object, or None for other kinds."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif kind not in WORKLOAD_KINDS:
        return None
    template: dict[str, Any] = (spec.get("template") or {}).get("spec") or {}
    return template


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


def images(objects: list[Manifest]) -> list[str]:
    """Every image the objects would pull, sorted and unique."""
    found: set[str] = set()
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None:
            found.update(c["image"] for c in containers(spec) if c.get("image"))
    return sorted(found)


# The image this project builds (make image, docs/image.md), and the public registries where no
# release publishes it yet: ghcr.io, the chart's default, and Docker Hub, where a reference without
# a registry goes. Any other registry is one the user pushed it to.
OWN_REPOSITORY = agents_image.REPOSITORY  # the one image this project builds
UNPUBLISHED_REGISTRIES = frozenset({"ghcr.io", "docker.io", ""})


@dataclass(frozen=True)
class ImageOrigin:
    image: str
    built_here: bool  # one of this project's images (make image)
    published: bool  # served by a registry: false only for ours on a public registry


def split_reference(image: str) -> tuple[str, str]:
    """(registry, repository) of an image reference; registry "" when it names none."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "", name


def origin(image: str) -> ImageOrigin:
    registry, repository = split_reference(image)
    ours = repository == OWN_REPOSITORY or repository.endswith("/" + OWN_REPOSITORY)
    return ImageOrigin(image, ours, not (ours and registry in UNPUBLISHED_REGISTRIES))


def unpublished(images_found: list[str]) -> list[str]:
    """Images this project builds that the render pulls from where nothing serves them."""
    return [image for image in images_found if not origin(image).published]


def required_instance_types(spec: dict[str, Any]) -> list[str] | None:
    """Instance types a required node affinity allows; None when it does not restrict them."""
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
        or {}
    )
    allowed: list[str] = []
    restricted = False
    for term in required.get("nodeSelectorTerms") or []:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == INSTANCE_TYPE_KEY and expression.get("operator") == "In":
                allowed += expression.get("values") or []
                restricted = True
    selector_type = (spec.get("nodeSelector") or {}).get(INSTANCE_TYPE_KEY)
    if selector_type:
        return [selector_type]
    return allowed if restricted else None


def inventory(objects: list[Manifest], components: list[str]) -> list[ComponentInventory]:
    """One entry per known component (in the given order), then any others the render holds."""
    by_name = {name: ComponentInventory(name) for name in components}
    for obj in objects:
        name = component_of(obj)
        entry = by_name.setdefault(name, ComponentInventory(name))
        entry.objects_by_kind[str(obj.get("kind"))] += 1
        namespace = obj.get("metadata", {}).get("namespace")
        if namespace:
            entry.namespaces.add(str(namespace))
        spec = pod_spec(obj)
        if spec is None:
            continue
        entry.images.update(c["image"] for c in containers(spec) if c.get("image"))
        if obj.get("kind") == "DaemonSet":
            types = required_instance_types(spec)
            entry.placements[obj["metadata"]["name"]] = types if types is not None else ["(any node)"]
    return list(by_name.values())
