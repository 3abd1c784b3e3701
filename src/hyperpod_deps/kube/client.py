"""A connection to one cluster, through the official client's dynamic client.

Objects are addressed by apiVersion and kind, exactly as a rendered manifest names them:
discovery turns that into the REST resource (its plural, whether it is namespaced), so the
same four verbs serve built-in kinds, CRDs and custom resources alike. Responses come back as
plain dicts (the JSON the API server sent), never as the client's model classes.
"""
# The dynamic client and the config loaders carry no annotations. This module is where their
# untyped calls end: everything it returns is typed.
# mypy: disallow-untyped-calls=False
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import urllib3.exceptions
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.errors import ClusterUnreachable, Forbidden, RequestFailed

# Re-exported: the code that talks to a cluster through this client takes them from here.
from hyperpod_deps.kube.resources import ResourceType as ResourceType
from hyperpod_deps.kube.resources import Snapshot as Snapshot
from hyperpod_deps.kube.resources import WatchEvent as WatchEvent
from hyperpod_deps.kube.resources import type_of

# (connect, read) seconds for each request we make; discovery uses the client's defaults.
REQUEST_TIMEOUT = (10, 60)
LIST_PAGE_SIZE = 500


def _private_directory() -> Path | None:
    """A fresh temporary directory, or None where there is none to write to: a pod with a
    read-only root filesystem and no volume at /tmp (the chart's health agent runs so)."""
    try:
        return Path(tempfile.mkdtemp(prefix="hyperpod-deps-discovery-"))
    except OSError:
        return None


def _discovery_cache(directory: Path | None) -> Path:
    """Where the dynamic client keeps what discovery found.

    It names its default file after the server URL alone, and local clusters reuse ports, so a
    shared file could describe another cluster's CRDs: ours is private and dropped on close.
    Without a directory, a path that can never be created: the client then finds no cache,
    fails to write one (which it tolerates) and keeps discovery in memory.
    """
    if directory is None:
        return Path(os.devnull) / "discovery-cache.json"
    return directory / "cache.json"


class Kube:
    """One cluster. Use `connect()`, and close it (or use it as a context manager)."""

    def __init__(self, api_client: k8s_client.ApiClient) -> None:
        self._api_client = api_client
        self._cache_dir = _private_directory()
        self._resources: dict[tuple[str, str], Any] = {}
        try:
            with _translated("discovery"):
                self._dynamic = DynamicClient(api_client, cache_file=str(_discovery_cache(self._cache_dir)))
        except BaseException:
            self.close()
            raise

    @classmethod
    def connect(cls, kubeconfig: Path | None = None, context: str | None = None) -> Kube:
        """From the given kubeconfig, else $KUBECONFIG or ~/.kube/config, else the pod's service account."""
        return cls(_api_client(kubeconfig, context))

    def close(self) -> None:
        self._api_client.close()
        if self._cache_dir is not None:
            shutil.rmtree(self._cache_dir, ignore_errors=True)

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    @property
    def server(self) -> str:
        host: str = self._api_client.configuration.host
        return host

    def server_version(self) -> str:
        """The API server's gitVersion, e.g. v1.35.4 or v1.31.2-eks-7f9249a."""
        with _translated("GET /version"):
            response = self._dynamic.request("get", "/version", serialize=False)
        return str(json.loads(response.data)["gitVersion"])

    def resource_type(self, api_version: str, kind: str) -> ResourceType | None:
        """None when the server does not serve that kind (for example a CRD not installed yet)."""
        resource = self._resource(api_version, kind)
        if resource is None:
            return None
        return ResourceType(api_version, kind, str(resource.name), bool(resource.namespaced))

    def get(self, rtype: ResourceType, name: str, namespace: str | None = None) -> Manifest | None:
        """The object, or None when it does not exist."""
        resource = self._require(rtype)
        try:
            with _translated(f"GET {rtype.qualified} {name}"):
                response = self._dynamic.get(resource, name=name, namespace=_scope(rtype, namespace),
                                             serialize=False, _request_timeout=REQUEST_TIMEOUT)
        except RequestFailed as error:
            if error.status == 404:
                return None
            raise
        return _json(response)

    def list(self, rtype: ResourceType, namespace: str | None = None) -> Iterator[Manifest]:
        """Every object of the type (in one namespace, or all), a page at a time."""
        resource = self._require(rtype)
        token: str | None = None
        while True:
            with _translated(f"LIST {rtype.qualified}"):
                response = self._dynamic.get(resource, namespace=_scope(rtype, namespace),
                                             limit=LIST_PAGE_SIZE, _continue=token, serialize=False,
                                             _request_timeout=REQUEST_TIMEOUT)
            page = _json(response)
            for item in page.get("items") or []:
                # List items carry neither apiVersion nor kind; give them back as a GET would.
                yield {"apiVersion": rtype.api_version, "kind": rtype.kind, **item}
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return

    def merge_patch(self, rtype: ResourceType, name: str, namespace: str | None, patch: Manifest) -> Manifest:
        """A JSON merge patch (RFC 7386): only the keys in `patch` change."""
        resource = self._require(rtype)
        with _translated(f"PATCH {rtype.qualified} {name}"):
            response = self._dynamic.patch(resource, body=patch, name=name,
                                           namespace=_scope(rtype, namespace),
                                           content_type="application/merge-patch+json", serialize=False,
                                           _request_timeout=REQUEST_TIMEOUT)
        return _json(response)

    def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        """Create the object; RequestFailed with status 409 when it already exists."""
        rtype = self._rtype_of(manifest)
        namespace = namespace or (manifest.get("metadata") or {}).get("namespace")
        resource = self._require(rtype)
        with _translated(f"CREATE {rtype.qualified} {(manifest.get('metadata') or {}).get('name', '')}"):
            response = self._dynamic.create(resource, body=manifest, namespace=_scope(rtype, namespace),
                                            serialize=False, _request_timeout=REQUEST_TIMEOUT)
        return _json(response)

    def create_subresource(self, rtype: ResourceType, name: str, namespace: str | None, subresource: str,
                           body: Manifest) -> Manifest:
        """POST to a subresource of one object, e.g. a TokenRequest to serviceaccounts/token."""
        resource = self._require(rtype).subresources[subresource]
        with _translated(f"CREATE {rtype.qualified}/{subresource} {name}"):
            path = resource.path(name=name, namespace=_scope(rtype, namespace))
            response = self._dynamic.request("post", path, body=body, serialize=False,
                                             _request_timeout=REQUEST_TIMEOUT)
        return _json(response)

    def replace(self, manifest: Manifest, subresource: str | None = None) -> Manifest:
        """PUT the whole object. With metadata.resourceVersion set this is a compare-and-swap:
        RequestFailed with status 409 when someone else wrote the object first. With
        `subresource="status"` the PUT goes to the status subresource (where only status changes)."""
        rtype = self._rtype_of(manifest)
        metadata = manifest.get("metadata") or {}
        resource = self._require(rtype)
        if subresource is not None:
            resource = resource.subresources[subresource]
        with _translated(f"UPDATE {rtype.qualified}{'/' + subresource if subresource else ''} "
                         f"{metadata.get('name', '')}"):
            response = self._dynamic.replace(resource, body=manifest, name=metadata.get("name"),
                                             namespace=_scope(rtype, metadata.get("namespace")),
                                             serialize=False, _request_timeout=REQUEST_TIMEOUT)
        return _json(response)

    def delete(self, rtype: ResourceType, name: str, namespace: str | None = None,
               uid: str | None = None, grace_period_seconds: int | None = None) -> bool:
        """Delete the object; False when it was already gone. With `uid`, only that incarnation
        of the name is deleted (a precondition), never a newer object that reuses it.
        `grace_period_seconds=0` deletes a pod at once, without waiting for its kubelet."""
        resource = self._require(rtype)
        body: Manifest = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        try:
            with _translated(f"DELETE {rtype.qualified} {name}"):
                self._dynamic.delete(resource, name=name, namespace=_scope(rtype, namespace), body=body,
                                     serialize=False, _request_timeout=REQUEST_TIMEOUT)
        except RequestFailed as error:
            if error.status in (404, 409):  # gone, or the name now belongs to a newer object
                return False
            raise
        return True

    def snapshot(self, rtype: ResourceType, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> Snapshot:
        """Every matching object and the list's resourceVersion, the point a watch resumes from."""
        resource = self._require(rtype)
        items: list[Manifest] = []
        token: str | None = None
        while True:
            with _translated(f"LIST {rtype.qualified}"):
                response = self._dynamic.get(resource, namespace=_scope(rtype, namespace),
                                             label_selector=label_selector, field_selector=field_selector,
                                             limit=LIST_PAGE_SIZE, _continue=token, serialize=False,
                                             _request_timeout=REQUEST_TIMEOUT)
            page = _json(response)
            items.extend({"apiVersion": rtype.api_version, "kind": rtype.kind, **item}
                         for item in page.get("items") or [])
            metadata = page.get("metadata") or {}
            token = metadata.get("continue") or None
            if token is None:
                return Snapshot(items, str(metadata.get("resourceVersion", "")))

    def watch(self, rtype: ResourceType, resource_version: str, namespace: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int = 60) -> Generator[WatchEvent, None, None]:
        """Changes after `resource_version`, until the server ends the watch (at most
        `timeout_seconds`). Bookmarks come through with their resourceVersion, so a caller can
        resume from the newest point it saw; RequestFailed(410) means that point has expired:
        take a new snapshot."""
        resource = self._require(rtype)
        query: list[tuple[str, str]] = [
            ("watch", "true"), ("allowWatchBookmarks", "true"), ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds))]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        path = resource.path(namespace=_scope(rtype, namespace))
        with _translated(f"WATCH {rtype.qualified}"):
            # The dynamic client's transport does not preload: the body streams as the server writes.
            response = self._dynamic.request("get", path, query_params=query, serialize=False,
                                             _request_timeout=(REQUEST_TIMEOUT[0], timeout_seconds + 30))
        try:
            with _translated(f"WATCH {rtype.qualified}"):
                for line in _lines(response):
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise RequestFailed(f"WATCH {rtype.qualified}: {status.get('message', '')}",
                                            int(status.get("code") or 0))
                    obj = event.get("object") or {}
                    obj.setdefault("apiVersion", rtype.api_version)
                    obj.setdefault("kind", rtype.kind)
                    yield WatchEvent(str(event.get("type")), obj)
        finally:
            response.release_conn()

    def can_i(self, verb: str, group: str, resource: str, namespace: str | None = None,
              name: str | None = None, subresource: str | None = None) -> bool:
        """Whether the current user may do it: a SelfSubjectAccessReview, as `kubectl auth can-i`."""
        attributes = {"verb": verb, "group": group, "resource": resource, "namespace": namespace,
                      "name": name, "subresource": subresource}
        review = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {k: v for k, v in attributes.items() if v}},
        }
        resource_api = self._require(ResourceType("authorization.k8s.io/v1", "SelfSubjectAccessReview",
                                                  "selfsubjectaccessreviews", False))
        with _translated(f"can-i {verb} {resource}"):
            response = self._dynamic.create(resource_api, body=review, serialize=False,
                                            _request_timeout=REQUEST_TIMEOUT)
        return bool((_json(response).get("status") or {}).get("allowed"))

    def _rtype_of(self, manifest: Manifest) -> ResourceType:
        return type_of(manifest, self.resource_type)

    def _resource(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        if key not in self._resources:
            try:
                with _translated(f"discovery of {api_version} {kind}"):
                    self._resources[key] = self._dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                return None
        return self._resources[key]

    def _require(self, rtype: ResourceType) -> Any:
        resource = self._resource(rtype.api_version, rtype.kind)
        if resource is None:
            raise RequestFailed(f"the server does not serve {rtype.api_version} {rtype.kind}", 404)
        return resource


def _api_client(kubeconfig: Path | None, context: str | None) -> k8s_client.ApiClient:
    in_cluster = kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ and not _default_kubeconfig()
    try:
        if in_cluster:
            configuration = k8s_client.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            return k8s_client.ApiClient(configuration)
        # persist_config=False: never write refreshed credentials back into the user's file.
        api_client: k8s_client.ApiClient = k8s_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False)
        return api_client
    except (ConfigException, OSError) as error:
        source = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClusterUnreachable(f"no usable kubeconfig ({source}): {error}") from error


def _default_kubeconfig() -> bool:
    return bool(os.environ.get("KUBECONFIG")) or Path("~/.kube/config").expanduser().is_file()


def _scope(rtype: ResourceType, namespace: str | None) -> str | None:
    # A cluster-scoped path must not carry a namespace (a manifest may still set one).
    return namespace if rtype.namespaced else None


def _lines(response: Any) -> Iterator[bytes]:
    """Newline-delimited JSON from a streamed response, one complete line at a time."""
    pending = b""
    for chunk in response.stream(4096):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


def _json(response: Any) -> Manifest:
    loaded: Manifest = json.loads(response.data)
    return loaded


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """The client's exceptions as ours: status errors by class, transport errors as unreachable."""
    try:
        yield
    except DynamicApiError as error:
        message = f"{what}: {error.summary()}"
        if error.status == 403:
            raise Forbidden(message, 403) from error
        raise RequestFailed(message, int(error.status or 0)) from error
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise ClusterUnreachable(f"{what}: the API server did not answer: {error}") from error
