"""Create-or-replace: make an object exist with exactly the given content."""
from __future__ import annotations

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed


def create_or_replace(kube: Kube, manifest: Manifest, attempts: int = 5) -> Manifest:
    """Create the object, or PUT it over the existing one (compare-and-swap on its
    resourceVersion, retried when another writer got there first)."""
    for _ in range(attempts):
        try:
            return kube.create(manifest)
        except RequestFailed as error:
            if error.status != 409:
                raise
        metadata = manifest.get("metadata") or {}
        rtype = kube.resource_type(manifest["apiVersion"], manifest["kind"])
        assert rtype is not None  # create() just found the kind
        current = kube.get(rtype, metadata["name"], metadata.get("namespace"))
        if current is None:
            continue  # deleted in between: create again
        desired = {**manifest, "metadata": {**metadata,
                                            "resourceVersion": current["metadata"]["resourceVersion"]}}
        try:
            return kube.replace(desired)
        except RequestFailed as error:
            if error.status not in (404, 409):
                raise
    raise RequestFailed(f"{manifest['kind']} {manifest['metadata']['name']}: still changing under us "
                        f"after {attempts} attempts", 409)
