"""What an install needs that the chart leaves to the cluster's owner, worked out from the
rendered objects: Secrets its pods read but it does not create (an `existingSecret`), and
volumes for claims that a storage provisioner would fill on a real cluster (the local control
plane runs none). Pure functions; the tests create what they return.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from tests.support.expectations import ApiObject

SecretRef = tuple[str, str]  # namespace, name
WORKLOAD_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "Job"})
SECRET_KINDS = WORKLOAD_KINDS | {"Secret"}  # what missing_secrets reads


_TOP_LEVEL_KIND = re.compile(r"^kind:\s*[\"']?(\w+)", re.MULTILINE)
# CSafeLoader where PyYAML has libyaml; only the few documents asked for are parsed.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def documents_of_kinds(manifests: str, kinds: Iterable[str]) -> list[dict[str, Any]]:
    """The rendered documents of the given kinds, leaving the rest (about 1 MB of CRDs) unparsed."""
    wanted = set(kinds)
    found = []
    for document in re.split(r"^---\s*$", manifests, flags=re.MULTILINE):
        kind = _TOP_LEVEL_KIND.search(document)
        if kind and kind.group(1) in wanted:
            found.append(yaml.load(document, Loader=_LOADER))
    return found


def missing_secrets(rendered: Iterable[ApiObject], namespace: str) -> dict[SecretRef, set[str]]:
    """Secrets the workloads read and the render does not hold, with the keys read from each."""
    objects = list(rendered)
    created = {(o["metadata"].get("namespace") or namespace, o["metadata"]["name"])
               for o in objects if o["kind"] == "Secret"}
    wanted: dict[SecretRef, set[str]] = {}
    for workload in objects:
        if workload["kind"] not in WORKLOAD_KINDS:
            continue
        where = workload["metadata"].get("namespace") or namespace
        for name, key in _secret_reads(workload["spec"]["template"]["spec"]):
            keys = wanted.setdefault((where, name), set())
            if key:
                keys.add(key)
    return {ref: keys for ref, keys in wanted.items() if ref not in created}


def _secret_reads(pod: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    reads: list[tuple[str, str | None]] = []
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        for variable in container.get("env") or []:
            ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                reads.append((ref["name"], ref["key"]))
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef")
            if ref and not ref.get("optional"):
                reads.append((ref["name"], None))
    for volume in pod.get("volumes") or []:
        secret = volume.get("secret")
        if secret and not secret.get("optional"):
            reads.append((secret["secretName"], None))
    return reads


def placeholder_secret(ref: SecretRef, keys: Iterable[str]) -> dict[str, Any]:
    namespace, name = ref
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": namespace, "name": name},
            "stringData": {key: f"placeholder for {key}" for key in sorted(keys)}}


def waits_for_a_provisioner(claim: ApiObject) -> bool:
    """A Pending claim that names no volume and no class: only a default provisioner could fill it."""
    spec = claim["spec"]
    return (claim.get("status", {}).get("phase") == "Pending" and not spec.get("volumeName")
            and not spec.get("storageClassName"))


def volume_for(claim: ApiObject) -> dict[str, Any]:
    """A PersistentVolume made for the claim, as a cluster admin without a provisioner would."""
    namespace, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"e2e-{namespace}-{name}", "labels": {"e2e.hyperpod-deps/provided-for": name}},
        "spec": {
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "accessModes": claim["spec"]["accessModes"],
            "persistentVolumeReclaimPolicy": "Retain",  # the test deletes it
            "storageClassName": "",
            "claimRef": {"namespace": namespace, "name": name},
            # Never mounted: kwok runs no containers.
            "hostPath": {"path": f"/var/lib/e2e/{namespace}/{name}"},
        },
    }
