"""create_or_replace against the real API server."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hyperpod_deps.kube.apply import create_or_replace
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed
from hyperpod_deps.localcluster.cluster import ClusterStatus

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(local_cluster: ClusterStatus) -> Iterator[Kube]:
    assert local_cluster.kubeconfig is not None
    with Kube.connect(Path(local_cluster.kubeconfig)) as connected:
        yield connected


def _config_map(namespace: str, data: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": namespace},
            "data": data}


def test_creates_then_replaces_whole(client: Kube, fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("kube-apply-e2e")
    created = create_or_replace(client, _config_map(namespace, {"a": "1", "b": "2"}))
    replaced = create_or_replace(client, _config_map(namespace, {"a": "3"}))

    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    assert replaced["data"] == {"a": "3"}  # a replace, not a merge: b is gone


def test_a_refusal_is_not_retried(client: Kube, fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("kube-apply-e2e-bad")
    bad = _config_map(namespace, {"not a key!": "x"})
    with pytest.raises(RequestFailed) as refused:
        create_or_replace(client, bad)
    assert refused.value.status == 422
