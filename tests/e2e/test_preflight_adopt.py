"""Objects that exist before the install, on the real control plane with the real Helm 3:
helm refuses them, `preflight` names each with its owner and the ways out, and
`install --adopt` hands them to the release, except from another Helm release without
--adopt-from-other-releases."""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from hyperpod_deps.chart.install import adopt
from hyperpod_deps.chart.preflight import ObjectRef, Observed, conflict
from hyperpod_deps.chart.render import RenderRequest, render
from hyperpod_deps.cli.install import install_command, status_command, upgrade_command
from hyperpod_deps.cli.preflight import preflight_command
from hyperpod_deps.core.ownership import Release
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.localcluster.cluster import ClusterStatus
from hyperpod_deps.toolchain.helm import HELM_RELEASES, helm_path
from tests.support.charts import CHART
from tests.support.crd_cleanup import delete_crds

pytestmark = pytest.mark.e2e

RELEASE = Release("dependencies", "kube-system")
KUBEFLOW_CRDS = ("mpijobs.kubeflow.org", "paddlejobs.kubeflow.org", "pytorchjobs.kubeflow.org",
                 "tfjobs.kubeflow.org", "xgboostjobs.kubeflow.org")
HELM_REFUSES = "exists and cannot be imported into the current release"
# The neuron device plugin's upstream RBAC manifest creates this ServiceAccount; clusters that
# installed the plugin that way have it already.
UPSTREAM_SERVICE_ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": "neuron-device-plugin", "namespace": "kube-system"}}
PYTORCH_JOB = {
    "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
    "metadata": {"name": "smoke", "namespace": "default"},
    "spec": {"pytorchReplicaSpecs": {"Worker": {"replicas": 1, "restartPolicy": "OnFailure", "template": {
        "spec": {"containers": [{"name": "pytorch", "image": "example.invalid/train:1"}]}}}}},
}
Completed = subprocess.CompletedProcess[str]
# The namespaced role and team-a's role go into namespaces the chart does not create by default.
ROLE_VALUES = ("--set", "computeQuotaTarget.targetId=team-a",
               "--set", "namespaced-role-and-bindings.enabled=true")
TEAM_NAMESPACES = ("kubeflow", "hyperpod-ns-team-a")


@dataclass(frozen=True)
class Cluster:
    kubectl: list[str]
    kubeconfig: Path
    helm: Path

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> Completed:
        return subprocess.run([*self.kubectl, *args], input=stdin, capture_output=True, text=True,
                              check=check)

    def get(self, *args: str) -> Any:
        return json.loads(self.run("get", *args, "-o", "json").stdout)

    def helm_run(self, *args: str, check: bool = True) -> Completed:
        return subprocess.run([str(self.helm), *args, "--kubeconfig", str(self.kubeconfig)],
                              capture_output=True, text=True, check=check)

    def cli(self, command: click.Command, *args: str) -> Result:
        return CliRunner().invoke(command, [*args, "--kubeconfig", str(self.kubeconfig)])

    def plain_helm_install(self) -> Completed:
        """The documented command, as a user types it."""
        return self.helm_run("install", RELEASE.name, str(CHART), "--namespace", RELEASE.namespace,
                             check=False)

    def reset(self) -> None:
        """No release, no kubeflow CRD, none of the objects these tests create."""
        for release in json.loads(self.helm_run("list", "--all-namespaces", "--output", "json").stdout):
            self.helm_run("uninstall", release["name"], "--namespace", release["namespace"], "--wait")
        delete_crds(self.kubectl, KUBEFLOW_CRDS)
        self.run("delete", "serviceaccount", "neuron-device-plugin", "-n", "kube-system",
                 "--ignore-not-found")
        self.run("delete", "configmap", "adopt-me", "-n", "default", "--ignore-not-found")
        self.run("delete", "namespace", *TEAM_NAMESPACES, "--ignore-not-found")


@pytest.fixture
def cluster(local_cluster: ClusterStatus, kubectl: list[str]) -> Iterator[Cluster]:
    assert local_cluster.kubeconfig is not None
    found = Cluster(kubectl, Path(local_cluster.kubeconfig), helm_path(3))
    found.reset()
    yield found
    found.reset()


def helm_args(cluster: Cluster) -> list[str]:
    return ["--helm", str(cluster.helm)]


def preflight_json(cluster: Cluster, *args: str) -> tuple[int, dict[str, Any]]:
    result = cluster.cli(preflight_command, *helm_args(cluster), "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def rendered_crd(name: str) -> dict[str, Any]:
    """The chart's own CRD, without the chart's labels and annotations: what a user who
    installed the operator from its upstream manifests has."""
    objects = render(helm_path(3), RenderRequest(CHART))
    [crd] = [o for o in objects if o["kind"] == "CustomResourceDefinition" and o["metadata"]["name"] == name]
    crd["metadata"] = {"name": name}
    return crd


def wait_established(cluster: Cluster, crd: str, timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        conditions = cluster.get("customresourcedefinition", crd).get("status", {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        time.sleep(0.2)
    raise AssertionError(f"{crd} was not established within {timeout_seconds}s")


def ownership_metadata(obj: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    meta = obj["metadata"]
    annotations = meta.get("annotations") or {}
    return ((meta.get("labels") or {}).get("app.kubernetes.io/managed-by"),
            annotations.get("meta.helm.sh/release-name"), annotations.get("meta.helm.sh/release-namespace"))


def release_manifest(cluster: Cluster) -> list[dict[str, Any]]:
    text = cluster.helm_run("get", "manifest", RELEASE.name, "--namespace", RELEASE.namespace).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("helm_major", sorted(HELM_RELEASES), ids=lambda major: f"helm{major}")
def test_a_service_account_made_with_kubectl_is_found_and_adopted(cluster: Cluster, helm_major: int) -> None:
    cluster = replace(cluster, helm=helm_path(helm_major))
    cluster.run("apply", "-f", "-", stdin=json.dumps(UPSTREAM_SERVICE_ACCOUNT))
    uid = cluster.get("serviceaccount", "neuron-device-plugin", "-n", "kube-system")["metadata"]["uid"]

    plain = cluster.plain_helm_install()
    assert plain.returncode != 0
    assert f'ServiceAccount "neuron-device-plugin" in namespace "kube-system" {HELM_REFUSES}' in plain.stderr
    assert cluster.helm_run("list", "--namespace", "kube-system", "--short").stdout.strip() == ""

    code, report = preflight_json(cluster)
    assert code == 1
    assert [(c["object"]["kind"], c["object"]["name"]) for c in report["conflicts"]] == [
        ("ServiceAccount", "neuron-device-plugin")]
    assert report["prerequisites"] == []
    found = report["conflicts"][0]
    assert found["owner"]["kind"] == "tool" and found["owner"]["tools"] == ["kubectl"]
    assert found["owner"]["managers"] == ["kubectl-client-side-apply"]
    assert found["helmMessage"] in plain.stderr  # preflight predicts helm's refusal word for word
    delete, adopt_way = found["waysOut"]
    assert "`kubectl delete serviceaccount neuron-device-plugin --namespace kube-system`" in delete
    assert "`hyperpod-deps install --adopt`" in adopt_way
    text = cluster.cli(preflight_command, *helm_args(cluster))
    assert "owner: kubectl (managedFields: kubectl-client-side-apply)" in text.stdout

    refused = cluster.cli(install_command, *helm_args(cluster))
    assert refused.exit_code == 1
    assert "stopped before helm install" in refused.stderr

    installed = cluster.cli(install_command, *helm_args(cluster), "--adopt")
    assert installed.exit_code == 0, installed.output
    assert ("adopted ServiceAccount/kube-system/neuron-device-plugin into release dependencies"
            in installed.stdout)
    assert "STATUS: deployed" in installed.stdout
    account = cluster.get("serviceaccount", "neuron-device-plugin", "-n", "kube-system")
    assert account["metadata"]["uid"] == uid  # the same object, adopted, not recreated
    assert ownership_metadata(account) == ("Helm", "dependencies", "kube-system")
    assert ("ServiceAccount", "neuron-device-plugin") in {
        (o["kind"], o["metadata"]["name"]) for o in release_manifest(cluster)}
    assert preflight_json(cluster)[0] == 0
    assert_ready(cluster)


def assert_ready(cluster: Cluster, timeout_seconds: float = 90) -> None:
    """`status` exits 0 once every Deployment is available and every DaemonSet ready (kwok runs the pods)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = cluster.cli(status_command, "--helm", str(cluster.helm), "--json")
        report = json.loads(status.stdout)
        if status.exit_code == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status.exit_code == 0, report
    assert report["status"] == "deployed" and report["ready"] is True
    workloads = {(w["kind"], w["name"]): w for w in report["workloads"]}
    operator = workloads[("Deployment", "dependencies-training-operators")]
    assert (operator["desired"], operator["ready"]) == (1, 1)
    nvidia = workloads[("DaemonSet", "dependencies-nvidia-device-plugin")]
    assert nvidia["desired"] == nvidia["ready"] >= 1  # the default cluster has NVIDIA nodes


def test_adoption_adds_the_ownership_metadata_and_changes_nothing_else(cluster: Cluster) -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "adopt-me", "namespace": "default", "labels": {"team": "ml"},
                              "annotations": {"note": "made by hand"}},
                 "data": {"config.yaml": "a: 1\n"}}
    cluster.run("create", "-f", "-", stdin=json.dumps(configmap))
    before = cluster.get("configmap", "adopt-me", "-n", "default")
    ref = ObjectRef("v1", "ConfigMap", "adopt-me", "default")
    with Kube.connect(cluster.kubeconfig) as kube:
        assert adopt(kube, [conflict(Observed(ref, configmap, before), RELEASE, {})], RELEASE) == [ref]
    after = cluster.get("configmap", "adopt-me", "-n", "default")
    added_labels = set(after["metadata"]["labels"].items()) - set(before["metadata"]["labels"].items())
    added_annotations = (set(after["metadata"]["annotations"].items())
                         - set(before["metadata"]["annotations"].items()))
    assert added_labels == {("app.kubernetes.io/managed-by", "Helm")}
    assert added_annotations == {("meta.helm.sh/release-name", "dependencies"),
                                 ("meta.helm.sh/release-namespace", "kube-system")}
    for key in ("labels", "annotations"):
        assert set(before["metadata"][key].items()) <= set(after["metadata"][key].items())
    assert after["data"] == before["data"]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]


def test_a_training_operator_crd_applied_with_kubectl_keeps_its_jobs(cluster: Cluster) -> None:
    crd_manifest = json.dumps(rendered_crd("pytorchjobs.kubeflow.org"))
    cluster.run("apply", "--server-side", "-f", "-", stdin=crd_manifest)
    wait_established(cluster, "pytorchjobs.kubeflow.org")
    cluster.run("create", "-f", "-", stdin=json.dumps(PYTORCH_JOB))
    job_uid = cluster.get("pytorchjob", "smoke", "-n", "default")["metadata"]["uid"]

    # The chart leaves a CRD another owner made as it is (as upstream's crds/ folder leaves them):
    # the documented install goes through and the CRD keeps its owner and its job.
    plain = cluster.plain_helm_install()
    assert plain.returncode == 0, plain.stderr
    assert ownership_metadata(cluster.get("customresourcedefinition", "pytorchjobs.kubeflow.org"))[1] is None
    cluster.helm_run("uninstall", RELEASE.name, "--namespace", RELEASE.namespace, "--wait")

    code, report = preflight_json(cluster)
    assert code == 0 and report["conflicts"] == []
    [found] = report["leftAlone"]
    assert found["object"]["name"] == "pytorchjobs.kubeflow.org"
    assert found["component"] == "trainingOperators"
    assert found["owner"]["tools"] == ["kubectl"] and found["owner"]["managers"] == ["kubectl"]
    assert found["crd"] == {"kind": "PyTorchJob", "customResources": 1, "keptOnUninstall": True}
    assert not any("kubectl delete" in way for way in found["waysOut"])

    installed = cluster.cli(install_command, *helm_args(cluster), "--adopt")
    assert installed.exit_code == 0, installed.output
    crd = cluster.get("customresourcedefinition", "pytorchjobs.kubeflow.org")
    assert ownership_metadata(crd) == ("Helm", "dependencies", "kube-system")
    assert cluster.get("pytorchjob", "smoke", "-n", "default")["metadata"]["uid"] == job_uid

    # What the explanation promised: uninstalling the release keeps the CRD, so the job lives on.
    cluster.helm_run("uninstall", RELEASE.name, "--namespace", RELEASE.namespace, "--wait")
    assert cluster.get("pytorchjob", "smoke", "-n", "default")["metadata"]["uid"] == job_uid


def test_a_crd_of_another_helm_release_is_adopted_only_when_asked(cluster: Cluster, tmp_path: Path) -> None:
    other_chart = tmp_path / "kubeflow-crds"
    (other_chart / "templates").mkdir(parents=True)
    (other_chart / "Chart.yaml").write_text("apiVersion: v2\nname: kubeflow-crds\nversion: 1.0.0\n")
    crd_manifest = json.dumps(rendered_crd("pytorchjobs.kubeflow.org"))
    (other_chart / "templates" / "crd.yaml").write_text(crd_manifest)
    cluster.helm_run("install", "kubeflow-crds", str(other_chart), "--namespace", "default")
    wait_established(cluster, "pytorchjobs.kubeflow.org")

    code, report = preflight_json(cluster)
    assert code == 0 and report["conflicts"] == []  # left as it is: helm would not refuse
    [found] = report["leftAlone"]
    assert found["owner"]["kind"] == "other-release"
    assert found["owner"]["release"] == {"name": "kubeflow-crds", "namespace": "default"}
    assert found["adoptableWithoutOverride"] is False
    assert "refused unless you add `--adopt-from-other-releases`" in found["waysOut"][1]
    assert found["crd"]["customResources"] == 0

    refused = cluster.cli(install_command, *helm_args(cluster), "--adopt")
    assert refused.exit_code == 1
    assert ("refusing to adopt CustomResourceDefinition/pytorchjobs.kubeflow.org belongs to Helm release "
            "kubeflow-crds" in refused.stderr)
    assert "would delete it and every PyTorchJob" in refused.stderr
    crd = cluster.get("customresourcedefinition", "pytorchjobs.kubeflow.org")
    assert ownership_metadata(crd) == ("Helm", "kubeflow-crds", "default")
    no_release = cluster.helm_run("status", RELEASE.name, "--namespace", RELEASE.namespace, check=False)
    assert no_release.returncode != 0  # helm never ran

    taken = cluster.cli(install_command, *helm_args(cluster), "--adopt", "--adopt-from-other-releases")
    assert taken.exit_code == 0, taken.output
    crd = cluster.get("customresourcedefinition", "pytorchjobs.kubeflow.org")
    assert ownership_metadata(crd) == ("Helm", "dependencies", "kube-system")
    # The refusal's reason, shown real: the other release still lists the CRD and deletes it.
    cluster.helm_run("uninstall", "kubeflow-crds", "--namespace", "default", "--wait")
    gone = cluster.run("get", "customresourcedefinition", "pytorchjobs.kubeflow.org", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_namespaces_the_roles_need_are_prerequisites(cluster: Cluster) -> None:
    code, report = preflight_json(cluster, *ROLE_VALUES)
    assert code == 1
    assert report["conflicts"] == []
    missing = {item["message"].split()[1]: item["fix"] for item in report["prerequisites"]
               if item["check"] == "namespace"}
    # kubeflow is the training operator's namespace, which the chart creates.
    assert set(missing) == {"hyperpod-ns-team-a"}
    assert "task governance creates it" in missing["hyperpod-ns-team-a"]

    stopped = cluster.cli(install_command, *helm_args(cluster), *ROLE_VALUES)
    assert stopped.exit_code == 1
    assert "namespace hyperpod-ns-team-a does not exist" in stopped.stdout
    assert "stopped before helm install" in stopped.stderr
    assert cluster.helm_run("list", "--all-namespaces", "--short").stdout.strip() == ""

    cluster.run("create", "namespace", "hyperpod-ns-team-a")
    code, report = preflight_json(cluster, *ROLE_VALUES)
    assert (code, report["ok"], report["prerequisites"]) == (0, True, [])


def test_upgrade_with_reuse_values_checks_what_the_release_was_given(cluster: Cluster) -> None:
    cluster.run("create", "namespace", "hyperpod-ns-team-a")
    installed = cluster.cli(install_command, *helm_args(cluster), *ROLE_VALUES)
    assert installed.exit_code == 0, installed.output
    # Without the team namespace, only the release's own values (team-a) make the render need it.
    cluster.run("delete", "namespace", "hyperpod-ns-team-a")

    stopped = cluster.cli(upgrade_command, *helm_args(cluster), "--reuse-values")
    assert stopped.exit_code == 1, stopped.output
    assert "namespace hyperpod-ns-team-a does not exist" in stopped.stdout
    assert "stopped before helm upgrade" in stopped.stderr
    assert release_revision(cluster) == 1  # helm never ran

    cluster.run("create", "namespace", "hyperpod-ns-team-a")
    upgraded = cluster.cli(upgrade_command, *helm_args(cluster), "--reuse-values")
    assert upgraded.exit_code == 0, upgraded.output
    [running] = [line for line in upgraded.stdout.splitlines() if line.startswith("running:")]
    assert running.endswith("--reuse-values")
    assert release_revision(cluster) == 2
    values = yaml.safe_load(cluster.helm_run("get", "values", RELEASE.name, "--namespace", RELEASE.namespace,
                                             "--output", "yaml").stdout)
    assert values["computeQuotaTarget"]["targetId"] == "team-a"


def test_upgrade_reusing_the_values_of_no_release_is_helms_refusal(cluster: Cluster) -> None:
    refused = cluster.cli(upgrade_command, *helm_args(cluster), "--reuse-values")
    assert refused.exit_code == 3
    assert "release: not found" in refused.stderr


def release_revision(cluster: Cluster) -> int:
    found = json.loads(cluster.helm_run("status", RELEASE.name, "--namespace", RELEASE.namespace,
                                        "--output", "json").stdout)
    return int(found["version"])
