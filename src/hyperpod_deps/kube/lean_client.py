"""The node agent's Kubernetes client: the standard library's TLS and JSON, and HTTP/1.1 of its own
(http1.py), nothing else.

The official client costs the agent about 30 MiB of resident memory (benchmarks/README.md) on
every node of a cluster, for the five requests the agent makes: read, watch and write its own
node (nodes.py), and create Events about it (events.py). This client makes exactly those, with
the same errors as client.Kube (errors.py), so the writer, the informer and the node verbs
cannot tell them apart. The kinds are known in advance, so nothing is discovered: any other kind
is refused as not served, without a request.

Connections: one kept open per thread for requests (the agent's loop and its node watch each
have one), reopened after a failure, and a fresh one for each watch, closed when it ends. A
request on a kept connection that the server had closed in the meantime is sent once more on a
new one: every request here may be repeated (reads, compare-and-swap PUTs, creates of named
objects).
"""
from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Generator
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlencode

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.kube.errors import ClusterUnreachable, Forbidden, RequestFailed
from hyperpod_deps.kube.events import EVENT
from hyperpod_deps.kube.http1 import Connection, Response, ServerClosed
from hyperpod_deps.kube.lean_config import Credentials, discover
from hyperpod_deps.kube.nodes import NODE
from hyperpod_deps.kube.resources import ResourceType, Snapshot, WatchEvent, type_of

CONNECT_SECONDS = 10
READ_SECONDS = 60
WATCH_GRACE_SECONDS = 30  # beyond the watch's own timeout, before its connection counts as dead
LIST_PAGE_SIZE = 500
SERVED = {(rtype.api_version, rtype.kind): rtype for rtype in (NODE, EVENT)}
# The server closed a kept connection between two requests: nothing was processed, send again.
_STALE = (ServerClosed, ConnectionResetError, BrokenPipeError)


class LeanKube:
    """One cluster, for the node agent. Use `connect()`, and close it (or use it as a context manager)."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._local = threading.local()
        self._open: list[Connection] = []
        self._busy: set[Connection] = set()  # in the middle of a request or a watch
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, kubeconfig: Path | None = None) -> LeanKube:
        """From the given kubeconfig, else $KUBECONFIG or ~/.kube/config, else the pod's service account."""
        return cls(discover(kubeconfig))

    def close(self) -> None:
        """Ends every connection. One that another thread is using (a watch blocked for the next
        event) has its socket shut down, which wakes that thread, and is closed by it: closing it
        from here would race with its read (and wait for the buffer lock that read holds)."""
        with self._lock:
            self._closed = True
            idle = [connection for connection in self._open if connection not in self._busy]
            busy = list(self._busy)
            self._open = list(self._busy)
        for connection in busy:
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for connection in idle:
            connection.close()

    def __enter__(self) -> LeanKube:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def resource_type(self, api_version: str, kind: str) -> ResourceType | None:
        return SERVED.get((api_version, kind))

    def get(self, rtype: ResourceType, name: str, namespace: str | None = None) -> Manifest | None:
        """The object, or None when it does not exist."""
        try:
            return self._request("GET", path(rtype, namespace, name), f"GET {rtype.qualified} {name}")
        except RequestFailed as error:
            if error.status == 404:
                return None
            raise

    def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        """Create the object; RequestFailed with status 409 when it already exists."""
        rtype = self._rtype_of(manifest)
        metadata = manifest.get("metadata") or {}
        return self._request("POST", path(rtype, namespace or metadata.get("namespace")),
                             f"CREATE {rtype.qualified} {metadata.get('name', '')}", manifest)

    def replace(self, manifest: Manifest, subresource: str | None = None) -> Manifest:
        """PUT the whole object (compare-and-swap on metadata.resourceVersion: 409 when someone
        wrote it first), or its status with `subresource="status"`."""
        rtype = self._rtype_of(manifest)
        metadata = manifest.get("metadata") or {}
        name = str(metadata.get("name", ""))
        what = f"UPDATE {rtype.qualified}{'/' + subresource if subresource else ''} {name}"
        return self._request("PUT", path(rtype, metadata.get("namespace"), name, subresource), what, manifest)

    def snapshot(self, rtype: ResourceType, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> Snapshot:
        """Every matching object and the list's resourceVersion, the point a watch resumes from."""
        items: list[Manifest] = []
        token = ""
        while True:
            query = _query(limit=str(LIST_PAGE_SIZE), labelSelector=label_selector,
                           fieldSelector=field_selector, **{"continue": token})
            page = self._request("GET", path(rtype, namespace) + query, f"LIST {rtype.qualified}")
            # List items carry neither apiVersion nor kind; give them back as a GET would.
            items.extend({"apiVersion": rtype.api_version, "kind": rtype.kind, **item}
                         for item in page.get("items") or [])
            metadata = page.get("metadata") or {}
            token = metadata.get("continue") or ""
            if not token:
                return Snapshot(items, str(metadata.get("resourceVersion", "")))

    def watch(self, rtype: ResourceType, resource_version: str, namespace: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int = 60) -> Generator[WatchEvent, None, None]:
        """Changes after `resource_version` until the server ends the watch, bookmarks included;
        RequestFailed(410) when that point has expired: take a new snapshot."""
        what = f"WATCH {rtype.qualified}"
        query = _query(watch="true", allowWatchBookmarks="true", resourceVersion=resource_version,
                       timeoutSeconds=str(timeout_seconds), labelSelector=label_selector,
                       fieldSelector=field_selector)
        connection = self._connection(read_seconds=timeout_seconds + WATCH_GRACE_SECONDS)
        try:  # the connection is this watch's alone: ended with it
            response = self._send(connection, "GET", path(rtype, namespace) + query, what, None)
            if response.status >= 400:
                raise _status_error(what, response.status, response.reason, _read(response, what))
            while line := _readline(response, what):
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise RequestFailed(f"{what}: {status.get('message', '')}", int(status.get("code") or 0))
                obj = event.get("object") or {}
                obj.setdefault("apiVersion", rtype.api_version)
                obj.setdefault("kind", rtype.kind)
                yield WatchEvent(str(event.get("type")), obj)
        finally:
            self._forget(connection)

    def _request(self, method: str, target: str, what: str, body: Manifest | None = None) -> Manifest:
        kept = getattr(self._local, "connection", None)
        connection = self._use(kept) if kept else self._connection()
        try:
            response = self._send(connection, method, target, what, body, retry_stale=kept is not None)
            data = _read(response, what)
            if response.closes:  # the server ends this connection: the next request opens another
                connection.close()
        except ClusterUnreachable:
            self._forget(connection)
            raise
        if self._keep(connection):
            self._local.connection = connection
        if response.status >= 400:
            raise _status_error(what, response.status, response.reason, data)
        loaded: Manifest = json.loads(data)
        return loaded

    def _send(self, connection: Connection, method: str, target: str, what: str,
              body: Manifest | None, retry_stale: bool = False) -> Response:
        headers = {"Accept": "application/json", "User-Agent": "hyperpod-deps-health-agent"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            authorization = self.credentials.authorization()  # a token file may be unreadable
            if authorization:
                headers["Authorization"] = authorization
            connection.request(method, self.credentials.path_prefix + target, payload, headers)
            return connection.getresponse()
        except _STALE as error:
            if not retry_stale:
                raise ClusterUnreachable(f"{what}: the API server closed the connection: {error}") from error
            connection.close()  # request() opens it again
            return self._send(connection, method, target, what, body)
        except OSError as error:
            raise ClusterUnreachable(f"{what}: the API server did not answer: {error}") from error

    def _connection(self, read_seconds: float = READ_SECONDS) -> Connection:
        """A new connection, busy (its thread's) until `_keep` or `_forget`. It connects within
        CONNECT_SECONDS, then each read waits up to `read_seconds` (a watch waits for the
        server's next event as long as the watch may last)."""
        server = self.credentials
        connection = Connection(server.host, server.port, server.tls, CONNECT_SECONDS, read_seconds)
        with self._lock:
            self._open.append(connection)
        return self._use(connection)

    def _use(self, connection: Connection) -> Connection:
        with self._lock:
            self._busy.add(connection)
        return connection

    def _keep(self, connection: Connection) -> bool:
        """The request is done: keep the connection for the thread's next one, unless closed meanwhile."""
        with self._lock:
            self._busy.discard(connection)
            if not self._closed:
                return True
        self._forget(connection)
        return False

    def _forget(self, connection: Connection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            self._busy.discard(connection)
            if connection in self._open:
                self._open.remove(connection)

    def _rtype_of(self, manifest: Manifest) -> ResourceType:
        return type_of(manifest, self.resource_type)


def path(rtype: ResourceType, namespace: str | None, name: str | None = None,
         subresource: str | None = None) -> str:
    """The REST path: /api/v1/nodes/n1, /apis/events.k8s.io/v1/namespaces/default/events, ..."""
    parts = ["api" if not rtype.group else "apis", rtype.api_version]
    if rtype.namespaced and namespace:  # a cluster-scoped path must not carry a namespace
        parts += ["namespaces", namespace]
    parts.append(rtype.plural)
    parts += [part for part in (name, subresource) if part]
    return "/" + "/".join(quote(part, safe="/" if part == rtype.api_version else "") for part in parts)


def _query(**params: str | None) -> str:
    kept = {key: value for key, value in params.items() if value}
    return "?" + urlencode(kept) if kept else ""


def _read(response: Response, what: str) -> bytes:
    try:
        return response.read()
    except OSError as error:
        raise ClusterUnreachable(f"{what}: the API server did not answer: {error}") from error


def _readline(response: Response, what: str) -> bytes:
    try:
        return response.readline()
    except OSError as error:
        raise ClusterUnreachable(f"{what}: the API server did not answer: {error}") from error


def _status_error(what: str, status: int, reason: str, body: bytes) -> RequestFailed:
    """The Status the server sent, as the official client summarises it: its message."""
    try:
        message = str(json.loads(body).get("message") or "")
    except (ValueError, AttributeError):
        message = body.decode(errors="replace").strip()
    text = f"{what}: {message or f'{status} {reason}'}"
    return Forbidden(text, 403) if status == 403 else RequestFailed(text, status)
