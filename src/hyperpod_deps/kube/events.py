"""Kubernetes Events about an object, the way `kubectl describe` and `kubectl events` show them."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.resources import ObjectVerbs, ResourceType

EVENT = ResourceType("events.k8s.io/v1", "Event", "events", True)
NORMAL = "Normal"
WARNING = "Warning"


def record_event(kube: ObjectVerbs, regarding: Manifest, event_type: str, reason: str, note: str, *,
                 controller: str, action: str, instance: str, name: str | None = None) -> Manifest:
    """Create an events.k8s.io/v1 Event about `regarding` (any object, namespaced or not).

    `controller` names the component (reportingController, e.g. hyperpod-deps/health-agent) and
    `instance` the process (reportingInstance, e.g. the node or pod name). Events about
    cluster-scoped objects such as nodes live in the default namespace, as the kubelet's do.
    A fixed `name` makes the call idempotent: a second create of it fails with 409.
    """
    metadata = regarding.get("metadata") or {}
    namespace = metadata.get("namespace") or "default"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name or f"{metadata.get('name', 'object')}.{uuid.uuid4().hex[:16]}",
                     "namespace": namespace},
        "eventTime": now,
        "type": event_type,
        "reason": reason,
        "note": note[:1024],
        "action": action,
        "reportingController": controller,
        "reportingInstance": instance[:128],
        "regarding": {key: value for key, value in {
            "apiVersion": regarding.get("apiVersion"),
            "kind": regarding.get("kind"),
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        }.items() if value},
    }
    return kube.create(event, namespace=namespace)
