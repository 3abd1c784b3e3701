"""The node agent's lean client against a real HTTPS server: the requests it makes, the errors it
gives (the same classes as the official client's), kept connections the server dropped, watches
that expire or are stopped, token rotation, and TLS that is always verified."""
from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hyperpod_deps.kube import lean_config
from hyperpod_deps.kube.errors import ClusterUnreachable, Forbidden, RequestFailed
from hyperpod_deps.kube.events import EVENT, record_event
from hyperpod_deps.kube.lean_client import LeanKube, path
from hyperpod_deps.kube.nodes import NODE
from hyperpod_deps.localcluster.pki import ensure_pki
from tests.unit.kube.lean_server import Answer, Script, serve

NODE_OBJ = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "resourceVersion": "7"}}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    ensure_pki(directory, "10.96.0.1")
    return directory


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def port(pki: Path, script: Script) -> Iterator[int]:
    yield from serve(pki, script)


def kubeconfig(target: Path, pki: Path, port: int, **user: str) -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "here",
        "contexts": [{"name": "here", "context": {"cluster": "local", "user": "me"}}],
        "clusters": [{"name": "local", "cluster": {
            "server": f"https://127.0.0.1:{port}",
            "certificate-authority-data": base64.b64encode((pki / "ca.crt").read_bytes()).decode()}}],
        "users": [{"name": "me", "user": user or {"token": "secret"}}],
    }
    target.write_text(yaml.safe_dump(config))
    return target


@pytest.fixture
def kube(tmp_path: Path, pki: Path, port: int) -> Iterator[LeanKube]:
    with LeanKube.connect(kubeconfig(tmp_path / "kubeconfig", pki, port)) as client:
        yield client


def test_paths_of_the_agents_kinds() -> None:
    assert path(NODE, None, "n1", "status") == "/api/v1/nodes/n1/status"
    assert path(NODE, "ignored", "n1") == "/api/v1/nodes/n1"  # cluster-scoped: no namespace
    assert path(EVENT, "default") == "/apis/events.k8s.io/v1/namespaces/default/events"


def test_get_sends_the_token_and_gives_none_for_a_missing_object(kube: LeanKube, script: Script) -> None:
    script.answers.put(Answer(body=NODE_OBJ))
    script.answers.put(Answer(404, {"kind": "Status", "message": 'nodes "n2" not found'}))
    assert kube.get(NODE, "n1") == NODE_OBJ
    assert kube.get(NODE, "n2") is None
    assert [(s.method, s.path) for s in script.seen] == [("GET", "/api/v1/nodes/n1"),
                                                         ("GET", "/api/v1/nodes/n2")]
    assert script.seen[0].headers["Authorization"] == "Bearer secret"
    assert script.connections == 1  # kept open between requests


@pytest.mark.parametrize(("status", "error", "temporary"), [
    (409, RequestFailed, False), (403, Forbidden, False), (422, RequestFailed, False),
    (429, RequestFailed, True), (503, RequestFailed, True)])
def test_an_error_status_is_the_official_clients_error_class(
        kube: LeanKube, script: Script, status: int, error: type[RequestFailed], temporary: bool) -> None:
    script.answers.put(Answer(status, {"kind": "Status", "message": "the server's own words"}))
    with pytest.raises(error) as raised:
        kube.replace(NODE_OBJ, subresource="status")
    assert type(raised.value) is error
    assert raised.value.status == status and raised.value.temporary is temporary
    assert str(raised.value) == "UPDATE nodes/status n1: the server's own words"
    assert (script.seen[0].method, script.seen[0].path) == ("PUT", "/api/v1/nodes/n1/status")
    assert script.seen[0].body == NODE_OBJ


def test_a_kept_connection_the_server_closed_is_opened_again(kube: LeanKube, script: Script) -> None:
    script.answers.put(Answer(body=NODE_OBJ, hang_up=True))
    script.answers.put(Answer(body=NODE_OBJ))
    assert kube.get(NODE, "n1") == NODE_OBJ
    assert kube.get(NODE, "n1") == NODE_OBJ  # no error: sent again on a new connection
    assert [seen.connection for seen in script.seen] == [0, 1]


def test_an_event_is_created_in_its_namespace(kube: LeanKube, script: Script) -> None:
    script.answers.put(Answer(201, {"metadata": {"name": "n1.x"}}))
    record_event(kube, NODE_OBJ, "Warning", "XidHardwareFailure", "note", controller="c", action="a",
                 instance="n1", name="n1.x")
    seen = script.seen[0]
    assert (seen.method, seen.path) == ("POST", "/apis/events.k8s.io/v1/namespaces/default/events")
    assert seen.body["regarding"]["name"] == "n1"


def test_a_kind_the_agent_never_uses_is_refused_without_a_request(kube: LeanKube, script: Script) -> None:
    with pytest.raises(RequestFailed) as raised:
        kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
    assert raised.value.status == 404
    assert kube.resource_type("v1", "Pod") is None
    assert script.seen == []


def test_a_list_is_read_a_page_at_a_time(kube: LeanKube, script: Script) -> None:
    script.answers.put(Answer(body={"metadata": {"continue": "next"},
                                    "items": [{"metadata": {"name": "a"}}]}))
    script.answers.put(Answer(body={"metadata": {"resourceVersion": "42"},
                                    "items": [{"metadata": {"name": "b"}}]}))
    snapshot = kube.snapshot(NODE, field_selector="metadata.name=a")
    assert snapshot.resource_version == "42"
    assert [(i["kind"], i["metadata"]["name"]) for i in snapshot.items] == [("Node", "a"), ("Node", "b")]
    assert script.seen[0].path == "/api/v1/nodes?limit=500&fieldSelector=metadata.name%3Da"
    # The next page is asked for with the same selector, as the API server requires.
    assert script.seen[1].path == "/api/v1/nodes?limit=500&fieldSelector=metadata.name%3Da&continue=next"


def test_a_watch_streams_changes_and_bookmarks(kube: LeanKube, script: Script) -> None:
    script.answers.put(Answer(watch=True, body=[
        {"type": "MODIFIED", "object": {"metadata": {"name": "n1", "resourceVersion": "8"}}},
        {"type": "BOOKMARK", "object": {"kind": "Node", "metadata": {"resourceVersion": "9"}}}]))
    events = list(kube.watch(NODE, "7", field_selector="metadata.name=n1", timeout_seconds=300))
    assert [(e.type, e.resource_version, e.object["kind"]) for e in events] == [
        ("MODIFIED", "8", "Node"), ("BOOKMARK", "9", "Node")]
    assert script.seen[0].path == ("/api/v1/nodes?watch=true&allowWatchBookmarks=true&resourceVersion=7"
                                   "&timeoutSeconds=300&fieldSelector=metadata.name%3Dn1")


@pytest.mark.parametrize("expired", ["in the stream", "as the answer"])
def test_an_expired_watch_is_410(kube: LeanKube, script: Script, expired: str) -> None:
    status = {"kind": "Status", "code": 410, "message": "too old resource version: 7 (9)"}
    if expired == "in the stream":
        script.answers.put(Answer(watch=True, body=[{"type": "ERROR", "object": status}]))
    else:
        script.answers.put(Answer(410, status))
    with pytest.raises(RequestFailed) as raised:
        list(kube.watch(NODE, "7"))
    assert raised.value.status == 410
    assert "too old resource version" in str(raised.value)


def test_close_ends_a_watch_blocked_in_another_thread(kube: LeanKube, script: Script) -> None:
    release = threading.Event()
    script.answers.put(Answer(watch=True, block=release,
                              body=[{"type": "ADDED", "object": {"metadata": {"name": "n1"}}}]))
    seen: list[object] = []
    events = kube.watch(NODE, "7")
    seen.append(next(events).type)  # the watch is open and now waits for the server

    def rest() -> None:
        try:
            seen.extend(event.type for event in events)
        except ClusterUnreachable as error:
            seen.append(error)
    reader = threading.Thread(target=rest)
    reader.start()
    kube.close()
    reader.join(10)
    release.set()
    assert not reader.is_alive()
    # The shut-down socket reads as the end of the stream, or fails mid-record: either way the
    # watch is over, and nothing more came from it.
    assert seen[0] == "ADDED"
    assert all(isinstance(item, ClusterUnreachable) for item in seen[1:])


def test_a_rotated_token_file_is_read_again(tmp_path: Path, pki: Path, port: int, script: Script) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    with LeanKube.connect(kubeconfig(tmp_path / "kubeconfig", pki, port, tokenFile=str(token))) as kube:
        script.answers.put(Answer(body=NODE_OBJ))
        script.answers.put(Answer(body=NODE_OBJ))
        kube.get(NODE, "n1")
        rotated = tmp_path / "token.new"  # as the kubelet does it: a new file swapped in
        rotated.write_text("second\n")
        os.replace(rotated, token)
        kube.get(NODE, "n1")
    assert [s.headers["Authorization"] for s in script.seen] == ["Bearer first", "Bearer second"]


def test_a_client_certificate_from_the_kubeconfig_is_presented(tmp_path: Path, pki: Path, port: int,
                                                                script: Script) -> None:
    data = {"client-certificate-data": base64.b64encode((pki / "admin.crt").read_bytes()).decode(),
            "client-key-data": base64.b64encode((pki / "admin.key").read_bytes()).decode()}
    with LeanKube.connect(kubeconfig(tmp_path / "kubeconfig", pki, port, **data)) as kube:
        script.answers.put(Answer(body=NODE_OBJ))
        kube.get(NODE, "n1")
    assert script.seen[0].client == "kubernetes-admin"
    assert "Authorization" not in script.seen[0].headers


def test_a_server_the_ca_did_not_sign_is_refused(tmp_path: Path, pki: Path, port: int,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("other-pki")
    ensure_pki(other, "10.96.0.1")
    with LeanKube.connect(kubeconfig(tmp_path / "kubeconfig", other, port)) as kube, \
            pytest.raises(ClusterUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        kube.get(NODE, "n1")


def test_nothing_listening_is_unreachable(tmp_path: Path, pki: Path) -> None:
    with LeanKube.connect(kubeconfig(tmp_path / "kubeconfig", pki, 1)) as kube, \
            pytest.raises(ClusterUnreachable, match="did not answer"):
        kube.get(NODE, "n1")


@pytest.mark.parametrize(("cluster", "user", "refusal"), [
    ({"insecure-skip-tls-verify": True}, {}, "always verifies"),
    ({"server": "http://127.0.0.1:6443"}, {}, "only HTTPS"),
    ({}, {"exec": {"command": "aws"}}, "does not support user exec"),
])
def test_what_the_agent_does_not_support_is_refused_by_name(
        tmp_path: Path, pki: Path, cluster: dict[str, object], user: dict[str, object], refusal: str) -> None:
    path = kubeconfig(tmp_path / "kubeconfig", pki, 6443)
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"].update(cluster)
    config["users"][0]["user"].update(user)
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ClusterUnreachable, match=f"no usable kubeconfig \\({path}\\): .*{refusal}"):
        LeanKube.connect(path)


def test_in_a_pod_the_service_account_is_used(tmp_path: Path, pki: Path) -> None:
    (tmp_path / "ca.crt").write_bytes((pki / "ca.crt").read_bytes())
    (tmp_path / "token").write_text("pod-token")
    credentials = lean_config.in_cluster({"KUBERNETES_SERVICE_HOST": "10.96.0.1",
                                          "KUBERNETES_SERVICE_PORT": "443"}, tmp_path)
    assert (credentials.host, credentials.port) == ("10.96.0.1", 443)
    assert credentials.authorization() == "Bearer pod-token"


def test_without_any_kubeconfig_or_service_account_the_error_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ClusterUnreachable, match="no usable kubeconfig"):
        lean_config.discover(None, {"KUBECONFIG": str(tmp_path / "absent")})
