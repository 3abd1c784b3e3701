"""The parts of the chart that read the live cluster with Helm's `lookup`, on the real control
plane: cert-manager and NVIDIA's GPU operator as prerequisites (decision 10), a release that
embedded either of them upstream, and the FSx claim that keeps its immutable fields.

`helm template` sees no cluster, so the chart tests cannot reach these branches; here
`helm install --dry-run=server` renders with lookup and creates nothing, and the claim is
installed for real because what is checked is the API server accepting the update.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hyperpod_deps.cli.preflight import preflight_command
from tests.support.helm_support import (
    NAMESPACE,
    RELEASE,
    RELEASE_NAME_ANNOTATION,
    RELEASE_NAMESPACE_ANNOTATION,
    HelmCli,
)
from tests.support.kube_support import ApiObject, Kube
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e]

CHART_PATH = "helm_chart/HyperPodHelmChart"
CERT_MANAGER_CRD = "certificates.cert-manager.io"
GPU_OPERATOR_CRD = "clusterpolicies.nvidia.com"
CERT_MANAGER_INSTALL = "helm install cert-manager oci://quay.io/jetstack/charts/cert-manager --version"
GPU_OPERATOR_INSTALL = "helm install gpu-operator gpu-operator --repo https://helm.ngc.nvidia.com/nvidia"
FSX = ("storage.enabled=true", "storage.fsx.fileSystemId=fs-0123456789abcdef0",
       "storage.fsx.dnsName=fs-0123456789abcdef0.fsx.us-west-2.amazonaws.com",
       "storage.fsx.mountName=abcdefgh")
RELEASE_OWNED = {"labels": {"app.kubernetes.io/managed-by": "Helm"},
                 "annotations": {RELEASE_NAME_ANNOTATION: RELEASE, RELEASE_NAMESPACE_ANNOTATION: NAMESPACE}}


def crd(name: str, kind: str, scope: str, metadata: dict[str, Any] | None = None) -> ApiObject:
    """A minimal CRD with the name the chart looks for (the real operators ship many fields more)."""
    plural, group = name.split(".", 1)
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name, **(metadata or {})},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}]}}


@pytest.fixture
def created(kube: Kube) -> Iterator[list[ApiObject]]:
    """Objects the test creates, deleted afterwards (CRDs waited for, so the next test sees none)."""
    objects: list[ApiObject] = []
    yield objects
    for obj in reversed(objects):
        namespace = obj["metadata"].get("namespace")
        resource = obj["kind"].lower()
        kube.delete(resource, [obj["metadata"]["name"]], namespace)
        kube.wait_gone(resource, [obj["metadata"]["name"]], namespace)


def make(kube: Kube, created: list[ApiObject], obj: ApiObject) -> ApiObject:
    kube.create(obj)
    created.append(obj)
    if obj["kind"] == "CustomResourceDefinition":
        poll(lambda: kube.get("customresourcedefinition", obj["metadata"]["name"]),
             lambda live: live is not None and any(c["type"] == "Established" and c["status"] == "True"
                                                   for c in live.get("status", {}).get("conditions") or []),
             f"CRD {obj['metadata']['name']} established", 60)
    return obj


def server_dry_run(helm: HelmCli, *assignments: str) -> tuple[int, str]:
    """`helm install --dry-run=server` (lookup sees the cluster, nothing is created): exit code, output."""
    args = ["install", RELEASE, CHART_PATH, "--namespace", NAMESPACE, "--dry-run=server"]
    for assignment in assignments:
        args += ["--set", assignment]
    result = helm.run(*args, check=False)
    return result.returncode, result.stdout + result.stderr


def preflight(helm: HelmCli, *assignments: str) -> tuple[int, list[dict[str, str]]]:
    """`hyperpod-deps preflight --json` with these values: exit code and the unmet prerequisites."""
    args = ["--helm", str(helm.binary), "--kubeconfig", helm.env["KUBECONFIG"], "--skip-access-check",
            "--json"]
    for assignment in assignments:
        args += ["--set", assignment]
    result = CliRunner().invoke(preflight_command, args)
    report = json.loads(result.stdout)
    return result.exit_code, report["prerequisites"]


def test_cert_manager_absent_stops_the_install_and_names_the_command(helm_cli: HelmCli) -> None:
    code, output = server_dry_run(helm_cli, "cert-manager.enabled=true")
    assert code != 0
    assert f"this cluster has no cert-manager (CRD {CERT_MANAGER_CRD} is absent)" in output
    assert CERT_MANAGER_INSTALL in output
    exit_code, prerequisites = preflight(helm_cli, "cert-manager.enabled=true")
    assert exit_code == 1
    assert [p for p in prerequisites if CERT_MANAGER_CRD in p["message"] and CERT_MANAGER_INSTALL in p["fix"]]


def test_cert_manager_present_lets_the_install_through(helm_cli: HelmCli, kube: Kube,
                                                       created: list[ApiObject]) -> None:
    make(kube, created, crd(CERT_MANAGER_CRD, "Certificate", "Namespaced"))
    code, output = server_dry_run(helm_cli, "cert-manager.enabled=true")
    assert code == 0, output
    exit_code, prerequisites = preflight(helm_cli, "cert-manager.enabled=true")
    assert prerequisites == [] and exit_code == 0


def test_a_release_that_installed_cert_manager_itself_is_not_upgraded_over_it(
        helm_cli: HelmCli, kube: Kube, created: list[ApiObject]) -> None:
    """Upstream embeds cert-manager: its CRDs then belong to release `dependencies`, and an upgrade
    to this chart (which does not embed it) would delete cert-manager."""
    make(kube, created, crd(CERT_MANAGER_CRD, "Certificate", "Namespaced", RELEASE_OWNED))
    code, output = server_dry_run(helm_cli, "cert-manager.enabled=true")
    assert code != 0
    assert f"release {RELEASE} installed cert-manager itself" in output
    assert CERT_MANAGER_INSTALL in output


def test_gpu_operator_absent_is_an_unmet_prerequisite_with_nvidias_command(helm_cli: HelmCli, kube: Kube,
                                                                           created: list[ApiObject]) -> None:
    exit_code, prerequisites = preflight(helm_cli, "gpu-operator.enabled=true")
    assert exit_code == 1
    assert [p for p in prerequisites if GPU_OPERATOR_CRD in p["message"] and GPU_OPERATOR_INSTALL in p["fix"]]
    make(kube, created, crd(GPU_OPERATOR_CRD, "ClusterPolicy", "Cluster"))
    exit_code, prerequisites = preflight(helm_cli, "gpu-operator.enabled=true")
    assert prerequisites == [] and exit_code == 0


def test_a_release_that_runs_nvidias_operator_itself_is_not_upgraded_over_it(
        helm_cli: HelmCli, kube: Kube, created: list[ApiObject]) -> None:
    container = {"name": "operator", "image": "example.invalid/op:1"}
    operator = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "gpu-operator", "namespace": NAMESPACE, **RELEASE_OWNED},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "gpu-operator"}},
                         "template": {"metadata": {"labels": {"app": "gpu-operator"}},
                                      "spec": {"containers": [container]}}}}
    make(kube, created, operator)
    code, output = server_dry_run(helm_cli, "gpu-operator.enabled=true")
    assert code != 0
    assert f"release {RELEASE} runs NVIDIA's GPU operator itself" in output
    assert GPU_OPERATOR_INSTALL in output
    code, output = server_dry_run(helm_cli)
    assert code == 0, "with gpu-operator off, the check does not run: " + output


def test_the_mig_config_map_is_installed_where_hyperpod_reads_it(helm_cli: HelmCli, kube: Kube,
                                                                 clean_release: None) -> None:
    helm_cli.run("install", RELEASE, CHART_PATH, "--namespace", NAMESPACE,
                 "--set", "gpu-operator.enabled=true")
    live = kube.get("configmap", "default-mig-config", NAMESPACE)
    assert live is not None
    assert live["metadata"]["labels"]["sagemaker.amazonaws.com/accelerator-partition-configmap"] == "true"
    assert "mig-configs" in yaml.safe_load(live["data"]["config.yaml"])


def test_an_existing_claim_keeps_its_storage_class_and_volume(helm_cli: HelmCli, kube: Kube,
                                                              clean_release: None,
                                                              created: list[ApiObject]) -> None:
    """A claim the upstream chart made for this release (dynamically provisioned: a storage class,
    another volume). Both fields are immutable: were they rendered from values, the API server
    would refuse the upgrade, and deleting the claim could delete the file system."""
    claim = make(kube, created, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "fsx-claim", "namespace": NAMESPACE, **RELEASE_OWNED},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "fsx-sc", "volumeName": "pv-dynamic-1",
                 "resources": {"requests": {"storage": "1200Gi"}}}})
    before = kube.get("persistentvolumeclaim", "fsx-claim", NAMESPACE)
    assert before is not None
    args = [arg for assignment in FSX for arg in ("--set", assignment)]
    helm_cli.run("install", RELEASE, CHART_PATH, "--namespace", NAMESPACE, *args)
    after = kube.get("persistentvolumeclaim", claim["metadata"]["name"], NAMESPACE)
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert (after["spec"]["storageClassName"], after["spec"]["volumeName"]) == ("fsx-sc", "pv-dynamic-1")
    assert after["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    # Helm's next upgrade of the same release keeps them too.
    helm_cli.run("upgrade", RELEASE, CHART_PATH, "--namespace", NAMESPACE, *args)
    again = kube.get("persistentvolumeclaim", "fsx-claim", NAMESPACE)
    assert again is not None and again["metadata"]["uid"] == before["metadata"]["uid"]
    assert again["spec"]["storageClassName"] == "fsx-sc"
