"""What every client of the kube layer hands out and takes: resource types, lists, watch events,
and the object verbs, free of any client library, so the node agent's own client and the
official one (client.py) speak the same types and the code above serves either."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.errors import RequestFailed


@dataclass(frozen=True)
class ResourceType:
    """What discovery says about an apiVersion/kind pair."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def qualified(self) -> str:
        """The name kubectl and RBAC use: `pods`, `clusterroles.rbac.authorization.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class Snapshot:
    """A consistent list of objects and the resourceVersion to watch from."""

    items: list[Manifest]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent:
    """ADDED, MODIFIED, DELETED or BOOKMARK, with the object as the server sent it."""

    type: str
    object: Manifest

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion", ""))


def type_of(manifest: Manifest, served: Callable[[str, str], ResourceType | None]) -> ResourceType:
    """The type of the object a manifest describes, as a client's `resource_type` knows it;
    RequestFailed(404) where the server (or the client) does not serve that kind."""
    api_version, kind = str(manifest.get("apiVersion", "")), str(manifest.get("kind", ""))
    rtype = served(api_version, kind)
    if rtype is None:
        raise RequestFailed(f"the server does not serve {api_version} {kind}", 404)
    return rtype


class ObjectVerbs(Protocol):
    """Read, create and compare-and-swap one object: what nodes.py and events.py ask of a client."""

    def get(self, rtype: ResourceType, name: str, namespace: str | None = None) -> Manifest | None: ...

    def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest: ...

    def replace(self, manifest: Manifest, subresource: str | None = None) -> Manifest: ...
