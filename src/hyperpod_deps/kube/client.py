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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import urllib3.exceptions
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

from hyperpod_deps.kube.errors import ClusterUnreachable, Forbidden, RequestFailed

Manifest = dict[str, Any]

# (connect, read) seconds for each request we make; discovery uses the client's defaults.
REQUEST_TIMEOUT = (10, 60)
LIST_PAGE_SIZE = 500


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


class Kube:
    """One cluster. Use `connect()`, and close it (or use it as a context manager)."""

    def __init__(self, api_client: k8s_client.ApiClient) -> None:
        self._api_client = api_client
        # The dynamic client caches discovery in a file named after the server URL alone. Local
        # clusters reuse ports, so a shared file could describe another cluster's CRDs: keep
        # ours private and drop it on close.
        self._cache_dir = Path(tempfile.mkdtemp(prefix="hyperpod-deps-discovery-"))
        self._resources: dict[tuple[str, str], Any] = {}
        try:
            with _translated("discovery"):
                self._dynamic = DynamicClient(api_client, cache_file=str(self._cache_dir / "cache.json"))
        except BaseException:
            self.close()
            raise

    @classmethod
    def connect(cls, kubeconfig: Path | None = None, context: str | None = None) -> Kube:
        """From the given kubeconfig, else $KUBECONFIG or ~/.kube/config, else the pod's service account."""
        return cls(_api_client(kubeconfig, context))

    def close(self) -> None:
        self._api_client.close()
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
