"""Moving a cluster from the upstream HyperPod chart to ours, in place, and back.

The upstream chart (tests/support/upstream.py) is installed as release
`dependencies` in kube-system, as the AWS console installs it. Users' objects
are created in the namespaces it made, then the README's upgrade command is
run verbatim with Helm 3 and with Helm 4. Nothing of the user's may be lost:
the namespaces, the job CRDs (upstream installs the training operator's from
its crds/ folder, outside Helm's ownership), the jobs and ConfigMaps, with
their uids unchanged; and every workload of the new release is ready. Then
`helm upgrade` back to the upstream chart, and the same holds.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hyperpod_deps.chart.render import parse_manifests
from tests.support.crd_cleanup import delete_crds
from tests.support.expectations import not_ready
from tests.support.helm_support import NAMESPACE, RELEASE, HelmCli, helm_release_namespaces
from tests.support.kube_support import Kube
from tests.support.upstream import Variant, requires_upstream, upstream_chart
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow, requires_upstream]

UPGRADE = "helm upgrade dependencies helm_chart/HyperPodHelmChart --namespace kube-system"
UPGRADE_REUSING_VALUES = ("helm upgrade dependencies helm_chart/HyperPodHelmChart --reuse-values"
                          " --namespace kube-system")
UPSTREAM_NAMESPACES = ("aws-hyperpod", "kubeflow", "mpi-operator")
WEBHOOK = "validator.training-operator.kubeflow.org"
KUBEFLOW_CRDS = ("pytorchjobs.kubeflow.org", "tfjobs.kubeflow.org", "xgboostjobs.kubeflow.org",
                 "paddlejobs.kubeflow.org", "mxjobs.kubeflow.org", "mpijobs.kubeflow.org")

CONTAINER = {"name": "trainer", "image": "registry.invalid/trainer:1", "command": ["python", "train.py"]}
USER_OBJECTS: tuple[dict[str, Any], ...] = (
    {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
     "metadata": {"name": "llama-finetune", "namespace": "kubeflow"},
     "spec": {"pytorchReplicaSpecs": {
         "Master": {"replicas": 1, "template": {"spec": {"containers": [{**CONTAINER, "name": "pytorch"}]}}},
         "Worker": {"replicas": 2, "template": {"spec": {"containers": [{**CONTAINER, "name": "pytorch"}]}}},
     }}},
    {"apiVersion": "kubeflow.org/v2beta1", "kind": "MPIJob",
     "metadata": {"name": "nccl-allreduce", "namespace": "kubeflow"},
     "spec": {"slotsPerWorker": 1, "mpiReplicaSpecs": {
         "Launcher": {"replicas": 1, "template": {"spec": {"containers": [CONTAINER]}}},
         "Worker": {"replicas": 2, "template": {"spec": {"containers": [CONTAINER]}}},
     }}},
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": "training-config", "namespace": "kubeflow"}, "data": {"epochs": "3"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes", "namespace": "mpi-operator"},
     "data": {"owner": "platform-team"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "runbook", "namespace": "aws-hyperpod"},
     "data": {"step": "1"}},
)


def _clean_slate(kube: Kube, helm4_cli: HelmCli) -> None:
    for namespace in helm_release_namespaces(kube, RELEASE):
        helm4_cli.uninstall(RELEASE, namespace)
    # An uninstall removes what the last revision rendered: after a failed upgrade back to
    # upstream, our webhook configuration would outlive the release and refuse every job.
    kube.delete("validatingwebhookconfiguration", [WEBHOOK])
    kube.delete("namespace", [n for n in UPSTREAM_NAMESPACES if kube.exists("namespace", n)])
    kube.wait_no_namespace_terminating()
    delete_crds(kube.kubectl, KUBEFLOW_CRDS)


@pytest.fixture
def upstream_installed(kube: Kube, helm4_cli: HelmCli) -> Iterator[None]:
    _clean_slate(kube, helm4_cli)
    yield
    _clean_slate(kube, helm4_cli)


def _resource(obj: dict[str, Any]) -> str:
    return {"PyTorchJob": "pytorchjobs.kubeflow.org", "MPIJob": "mpijobs.kubeflow.org",
            "ConfigMap": "configmap"}[obj["kind"]]


def _uids(kube: Kube) -> dict[str, str | None]:
    """Each user object's uid (None when gone), and each namespace's and CRD's."""
    found: dict[str, str | None] = {}
    for obj in USER_OBJECTS:
        live = kube.get(_resource(obj), obj["metadata"]["name"], obj["metadata"]["namespace"])
        found[f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"] = (
            live["metadata"]["uid"] if live else None)
    for namespace in UPSTREAM_NAMESPACES:
        found[f"Namespace {namespace}"] = _uid_unless_deleting(kube.get("namespace", namespace))
    for crd in KUBEFLOW_CRDS:
        found[f"CRD {crd}"] = _uid_unless_deleting(kube.get("customresourcedefinition", crd))
    return found


def _uid_unless_deleting(live: Any) -> str | None:
    if not live or live["metadata"].get("deletionTimestamp"):
        return None
    return str(live["metadata"]["uid"])


def _workloads_of_release(helm: HelmCli, kube: Kube) -> list[Any]:
    manifest = helm.run("get", "manifest", RELEASE, "--namespace", NAMESPACE).stdout
    wanted = [(o["kind"], o["metadata"].get("namespace") or NAMESPACE, o["metadata"]["name"])
              for o in parse_manifests(manifest) if o["kind"] in ("Deployment", "DaemonSet")]
    assert wanted, "the release has no workload"
    missing = {"missing": True, "metadata": {}}
    return [kube.get(kind.lower(), name, namespace) or {**missing, "kind": kind, "metadata": {"name": name}}
            for kind, namespace, name in wanted]


def _wait_ready(helm: HelmCli, kube: Kube) -> None:
    poll(lambda: _workloads_of_release(helm, kube),
         lambda workloads: not [w for w in workloads if w.get("missing")] and not not_ready(workloads),
         "every Deployment and DaemonSet of the release to be ready", 180)


def _install_upstream_with_users_objects(helm: HelmCli, kube: Kube, variant: Variant,
                                         *extra: str) -> dict[str, str | None]:
    helm.run("install", RELEASE, str(upstream_chart(variant)), "--namespace", NAMESPACE, *extra)
    _wait_ready(helm, kube)
    for obj in USER_OBJECTS:
        kube.create(obj)
    before = _uids(kube)
    assert None not in before.values(), f"the upstream install did not make everything: {before}"
    return before


def _assert_nothing_lost(kube: Kube, before: dict[str, str | None]) -> None:
    after = _uids(kube)
    lost = {key: (uid, after[key]) for key, uid in before.items() if after[key] != uid}
    assert not lost, f"lost or replaced (uid before, after): {lost}"


def test_the_documented_upgrade_from_upstream_keeps_everything_and_goes_back(
        helm_cli: HelmCli, kube: Kube, upstream_installed: None) -> None:
    # Upstream ships two health agents and Helm loads either (tests/support/upstream.py): each
    # Helm major installs one of them, so both are upgraded from, deterministically.
    variant: Variant = "folder" if helm_cli.major == 3 else "tgz"
    before = _install_upstream_with_users_objects(helm_cli, kube, variant)

    helm_cli.documented(UPGRADE)
    _assert_nothing_lost(kube, before)
    _wait_ready(helm_cli, kube)
    status = helm_cli.status()
    assert status is not None and status["info"]["status"] == "deployed" and status["version"] == 2

    # Upstream's aggregated ClusterRoles say `rules: []`, a field the aggregation controller owns:
    # Helm 4's server-side apply refuses any upgrade to upstream's chart (upstream to upstream
    # too) unless told to take the field (docs/upstream.md).
    back = ("--force-conflicts",) if helm_cli.major == 4 else ()
    helm_cli.run("upgrade", RELEASE, str(upstream_chart(variant)), "--namespace", NAMESPACE, *back)
    _assert_nothing_lost(kube, before)
    _wait_ready(helm_cli, kube)


def test_the_upgrade_reusing_upstreams_values_keeps_them(
        helm4_cli: HelmCli, kube: Kube, upstream_installed: None) -> None:
    before = _install_upstream_with_users_objects(
        helm4_cli, kube, "folder", "--set", "health-monitoring-agent.region=eu-west-1",
        "--set", "mlflow.enabled=false")

    helm4_cli.documented(UPGRADE_REUSING_VALUES)
    _assert_nothing_lost(kube, before)
    _wait_ready(helm4_cli, kube)
    agent = kube.get("daemonset", "health-monitoring-agent", "aws-hyperpod")
    assert agent is not None
    images = [c["image"] for c in agent["spec"]["template"]["spec"]["containers"]]
    assert any(".dkr.ecr.eu-west-1.amazonaws.com/" in image for image in images), json.dumps(images)
