"""The documented helm workflow, verbatim, on the real local control plane with the real Helm 3
and Helm 4: lint, dependencies update, dry-run, install, list, upgrades, turning components off
and on, team roles, uninstall (CRDs and users' jobs stay) and a reinstall over the kept CRDs.

Every command below is run as written in README.md (argv as a shell would split it, from the
repository root, the cluster's kubeconfig in KUBECONFIG); the first test fails when the README
and this list part ways.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps.chart.render import parse_manifests
from hyperpod_deps.core.manifest import Manifest
from tests.support.charts import CHART, ROOT
from tests.support.expectations import Identity, drift, identity, kept
from tests.support.helm_support import (
    DOCUMENTED_PACKAGING,
    NAMESPACE,
    RELEASE,
    HelmCli,
    documented_helm_commands,
    helm_release_namespaces,
    normalised,
    owned_by,
)
from tests.support.kube_support import Kube
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LINT = "helm lint helm_chart/HyperPodHelmChart"
DEPENDENCIES_UPDATE = "helm dependencies update helm_chart/HyperPodHelmChart"
DRY_RUN = "helm install dependencies helm_chart/HyperPodHelmChart --namespace kube-system --dry-run"
INSTALL = "helm install dependencies helm_chart/HyperPodHelmChart --namespace kube-system"
LIST = "helm list --namespace kube-system"
UPGRADE_REUSING_VALUES = ("helm upgrade dependencies helm_chart/HyperPodHelmChart --reuse-values"
                          " --namespace kube-system")
UPGRADE = "helm upgrade dependencies helm_chart/HyperPodHelmChart --namespace kube-system"
INSTALL_WITHOUT_TRAINING_OPERATORS = f"{INSTALL} --set trainingOperators.enabled=false"
INSTALL_TEAM_ROLE = f"{INSTALL} --set computeQuotaTarget.targetId=team-a"
INSTALL_TEAM_ROLE_STANDALONE = ("helm install dependencies"
                                " helm_chart/HyperPodHelmChart/charts/team-role-and-bindings"
                                " --set computeQuotaTarget.targetId=team-a")
INSTALL_STORAGE = """helm install dependencies helm_chart/HyperPodHelmChart --namespace kube-system \\
  --set storage.enabled=true --set storage.fsx.fileSystemId=fs-0123456789abcdef0 \\
  --set storage.fsx.dnsName=fs-0123456789abcdef0.fsx.us-west-2.amazonaws.com \\
  --set storage.fsx.mountName=abcdefgh"""
DOCUMENTED = (LINT, DEPENDENCIES_UPDATE, DRY_RUN, INSTALL, LIST, UPGRADE_REUSING_VALUES, UPGRADE,
              INSTALL_WITHOUT_TRAINING_OPERATORS, INSTALL_TEAM_ROLE, INSTALL_TEAM_ROLE_STANDALONE,
              INSTALL_STORAGE)
UNINSTALL = "helm uninstall dependencies --namespace kube-system"

# The training operator's objects, as upstream names them, in its namespace.
TRAINING_OPERATOR = "training-operator"
TRAINING_OPERATOR_DEPLOYMENT = "dependencies-training-operators"
TRAINING_OPERATOR_NAMESPACE = "kubeflow"
MPI_OPERATOR = "dependencies-mpi-operator"
TRAINING_OPERATOR_CRDS = ("pytorchjobs.kubeflow.org", "tfjobs.kubeflow.org", "xgboostjobs.kubeflow.org",
                          "paddlejobs.kubeflow.org")
ALL_CRDS = (*TRAINING_OPERATOR_CRDS, "mpijobs.kubeflow.org")
WEBHOOK = "validator.training-operator.kubeflow.org"
# How each major version writes objects: Helm 4 applies them server-side, Helm 3 patches them
# with its three-way merge (an Update in the object's managed fields).
FIELD_OPERATION = {3: "Update", 4: "Apply"}


def test_every_readme_command_is_run_here() -> None:
    readme = documented_helm_commands((ROOT / "README.md").read_text())
    assert sorted(set(readme)) == sorted({normalised(c) for c in (*DOCUMENTED, *DOCUMENTED_PACKAGING)})


def test_lint(helm_cli: HelmCli) -> None:
    result = helm_cli.documented(LINT)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[ERROR]" not in result.stdout and "[WARNING]" not in result.stdout, result.stdout


def test_dependencies_update_needs_nothing_but_the_embedded_charts(helm_cli: HelmCli, tmp_path: Path) -> None:
    # In a copy: the command rewrites Chart.lock, and the tree under test must stay as committed.
    shutil.copytree(CHART, tmp_path / "helm_chart/HyperPodHelmChart", symlinks=True)
    helm_cli.documented(DEPENDENCIES_UPDATE, cwd=tmp_path)
    copy = tmp_path / "helm_chart/HyperPodHelmChart"
    assert not list((copy / "charts").glob("*.tgz"))
    assert (yaml.safe_load((copy / "Chart.lock").read_text())["dependencies"]
            == yaml.safe_load((CHART / "Chart.lock").read_text())["dependencies"])


def test_install_dry_run_creates_nothing(helm_cli: HelmCli, kube: Kube, clean_release: None) -> None:
    result = helm_cli.documented(DRY_RUN)
    assert "kind: DaemonSet" in result.stdout and "Enabled components:" in result.stdout
    assert helm_release_namespaces(kube, RELEASE) == []
    assert kube.items("daemonsets", NAMESPACE, f"app.kubernetes.io/instance={RELEASE}") == []


def test_documented_workflow(helm_cli: HelmCli, kube: Kube, clean_release: None,
                             fresh_namespace: Callable[[str], str]) -> None:
    """Install, list, both upgrades, a component turned off, uninstall, reinstall: one release's life."""
    jobs = fresh_namespace(f"e2e-jobs-helm{helm_cli.major}")
    install_list_and_upgrade(helm_cli, kube, jobs)
    turn_the_training_operator_off(helm_cli, kube)
    kube.create(pytorch_job(jobs))
    kube.create(mpi_job(jobs))
    uninstall_keeping_crds_and_jobs(helm_cli, kube, jobs)
    reinstall_over_the_kept_crds(helm_cli, kube, jobs)


def install_list_and_upgrade(helm: HelmCli, kube: Kube, jobs: str) -> None:
    helm.documented(INSTALL)
    assert_deployed(helm, revision=1)
    kube.wait_release_ready(RELEASE)
    assert_written_by(helm.major, kube)
    listed = helm.documented(LIST).stdout.splitlines()
    assert any(line.split()[:2] == [RELEASE, NAMESPACE] and "deployed" in line for line in listed), listed

    refused = kube.run("create", "-f", "-", "--request-timeout=60s",
                       stdin=yaml.safe_dump(pytorch_job(jobs)), check=False)
    # Nothing serves the operator's webhook here (kwok runs no containers) and it fails closed:
    # the cluster's rules refuse the Service's ClusterIP on this machine, at once.
    assert refused.returncode != 0, "a PyTorchJob passed a webhook that nothing serves"
    assert "validator.pytorchjob.training-operator.kubeflow.org" in refused.stderr, refused.stderr
    assert "connect: connection refused" in refused.stderr, refused.stderr

    helm.documented(UPGRADE_REUSING_VALUES)
    assert_deployed(helm, revision=2)
    helm.documented(UPGRADE)
    assert_deployed(helm, revision=3)


def turn_the_training_operator_off(helm: HelmCli, kube: Kube) -> None:
    helm.run(*upgrade_argv(), "--set", "trainingOperators.enabled=false")
    assert_deployed(helm, revision=4)
    assert_training_operator_gone(kube)
    assert kube.exists("deployment", MPI_OPERATOR, NAMESPACE)
    for crd in TRAINING_OPERATOR_CRDS:
        found = kube.get("customresourcedefinition", crd)
        assert found is not None and kept(found), f"{crd} must stay, with the keep policy"


def uninstall_keeping_crds_and_jobs(helm: HelmCli, kube: Kube, jobs: str) -> None:
    uninstalled = helm.documented(UNINSTALL).stdout
    assert "kept due to the resource policy" in uninstalled and "mpijobs.kubeflow.org" in uninstalled
    assert helm_release_namespaces(kube, RELEASE) == []
    assert kube.items("daemonsets", NAMESPACE, f"app.kubernetes.io/instance={RELEASE}") == []
    assert_crds_and_jobs_remain(kube, jobs)


def reinstall_over_the_kept_crds(helm: HelmCli, kube: Kube, jobs: str) -> None:
    # The kept CRDs and namespaces still name their release: another release leaves them as they
    # are (hyperpod-common.ours) and does not take them over...
    helm.run("install", "another", "helm_chart/HyperPodHelmChart", "--namespace", NAMESPACE)
    for crd in ALL_CRDS:
        found = kube.get("customresourcedefinition", crd)
        assert found is not None and owned_by(found), f"{crd} was taken over by another release"
    helm.uninstall("another")
    assert [crd for crd in ALL_CRDS if not kube.exists("customresourcedefinition", crd)] == []
    # ...while the same release name in the same namespace adopts them.
    helm.documented(INSTALL)
    assert_deployed(helm, revision=1)
    for crd in ALL_CRDS:
        found = kube.get("customresourcedefinition", crd)
        assert found is not None and owned_by(found), f"{crd} is adopted by the new release"
    kube.wait_release_ready(RELEASE)
    assert_crds_and_jobs_remain(kube, jobs)


def test_install_with_the_training_operator_off(helm3_cli: HelmCli, kube: Kube, clean_release: None) -> None:
    helm3_cli.documented(INSTALL_WITHOUT_TRAINING_OPERATORS)
    assert_deployed(helm3_cli, revision=1)
    assert_training_operator_gone(kube)
    kube.wait_release_ready(RELEASE)
    assert kube.exists("deployment", MPI_OPERATOR, NAMESPACE)


def test_storage_binds_the_fsx_volume_to_its_claim(helm3_cli: HelmCli, kube: Kube,
                                                   clean_release: None) -> None:
    helm3_cli.documented(INSTALL_STORAGE)
    selector = "app.kubernetes.io/component=storage"
    volumes = kube.cluster_items("persistentvolumes", selector)
    assert len(volumes) == 1
    csi = volumes[0]["spec"]["csi"]
    attributes = csi["volumeAttributes"]
    assert (csi["volumeHandle"], attributes["dnsname"], attributes["mountname"]) == (
        "fs-0123456789abcdef0", "fs-0123456789abcdef0.fsx.us-west-2.amazonaws.com", "abcdefgh")
    # The PV names its claim and the claim its PV: the PV controller binds them, no CSI driver needed.
    bound = poll(lambda: [*kube.cluster_items("persistentvolumes", selector),
                          *kube.items("persistentvolumeclaims", selector=selector)],
                 lambda found: len(found) == 2 and all(o["status"].get("phase") == "Bound" for o in found),
                 "the FSx PersistentVolume and its claim to be Bound", timeout_seconds=60)
    claim = next(o for o in bound if o["kind"] == "PersistentVolumeClaim")
    assert claim["spec"]["volumeName"] == volumes[0]["metadata"]["name"]

    helm3_cli.documented(UNINSTALL)
    kube.wait_gone("persistentvolume", [volumes[0]["metadata"]["name"]])
    kube.wait_gone("persistentvolumeclaim", [claim["metadata"]["name"]], claim["metadata"]["namespace"])


def test_team_roles_from_the_umbrella_and_from_the_subchart(
        helm3_cli: HelmCli, kube: Kube, clean_release: None, fresh_namespace: Callable[[str], str]) -> None:
    # HyperPod task governance creates the team's namespace; the chart only binds roles in it.
    team = fresh_namespace("hyperpod-ns-team-a")
    helm3_cli.documented(INSTALL_TEAM_ROLE)
    assert_team_can_work_only_in_its_namespace(kube, team)
    helm3_cli.documented(UNINSTALL)
    kube.wait_gone("clusterrole", ["hyperpod-ns-team-a-cluster-role"])

    helm3_cli.documented(INSTALL_TEAM_ROLE_STANDALONE)
    # No --namespace: the release goes to the kubeconfig's namespace, the roles to the team's.
    assert helm_release_namespaces(kube, RELEASE) == ["default"]
    assert_team_can_work_only_in_its_namespace(kube, team)
    helm3_cli.run("uninstall", RELEASE)
    kube.wait_gone("clusterrole", ["hyperpod-ns-team-a-cluster-role"])


def assert_team_can_work_only_in_its_namespace(kube: Kube, team: str) -> None:
    prefix = team  # hyperpod-ns-<id>: every name derives from it (the HyperPod wire contract)
    assert kube.exists("clusterrole", f"{prefix}-cluster-role")
    assert kube.exists("clusterrolebinding", f"{prefix}-cluster-role-binding")
    assert kube.exists("role", f"{prefix}-namespace-role", team)
    assert kube.exists("rolebinding", f"{prefix}-namespace-role-binding", team)
    group = f"{prefix}-namespace-level-group"

    def allowed(verb: str, resource: str, api_group: str, namespace: str = "", name: str = "") -> bool:
        return kube.allowed("scientist", group, verb, resource, api_group, namespace, name)

    assert allowed("create", "pytorchjobs", "kubeflow.org", team)
    assert allowed("patch", "workloads", "kueue.x-k8s.io", team)
    assert allowed("get", "clusterqueues", "kueue.x-k8s.io", name=f"{prefix}-clusterqueue")
    assert not allowed("get", "clusterqueues", "kueue.x-k8s.io", name="hyperpod-ns-other-clusterqueue")
    assert not allowed("create", "pytorchjobs", "kubeflow.org", "default")
    assert not allowed("delete", "nodes", "")


def assert_deployed(helm: HelmCli, revision: int) -> None:
    status = helm.status()
    assert status is not None, "no release"
    assert (status["info"]["status"], status["version"]) == ("deployed", revision), status["info"]


def assert_written_by(major: int, kube: Kube) -> None:
    workloads = kube.run("get", "daemonsets", "--namespace", NAMESPACE, "--show-managed-fields", "-o", "yaml",
                         "--selector", f"app.kubernetes.io/instance={RELEASE}").stdout
    for daemonset in yaml.safe_load(workloads)["items"]:
        operations = {(m["manager"], m["operation"]) for m in daemonset["metadata"]["managedFields"]}
        assert ("helm", FIELD_OPERATION[major]) in operations, (daemonset["metadata"]["name"], operations)


def assert_training_operator_gone(kube: Kube) -> None:
    namespaced = ("service", "serviceaccount", "role", "rolebinding")
    gone = [(kind, TRAINING_OPERATOR, TRAINING_OPERATOR_NAMESPACE) for kind in namespaced] + [
        ("deployment", TRAINING_OPERATOR_DEPLOYMENT, TRAINING_OPERATOR_NAMESPACE),
        ("clusterrole", TRAINING_OPERATOR, None), ("clusterrolebinding", TRAINING_OPERATOR, None),
        ("validatingwebhookconfiguration", WEBHOOK, None)]
    assert [g for g in gone if kube.exists(*g)] == []


def assert_crds_and_jobs_remain(kube: Kube, namespace: str) -> None:
    assert [crd for crd in ALL_CRDS if not kube.exists("customresourcedefinition", crd)] == []
    assert kube.exists("pytorchjobs.kubeflow.org", "survives-uninstall", namespace)
    assert kube.exists("mpijobs.kubeflow.org", "survives-uninstall", namespace)


def upgrade_argv() -> list[str]:
    return ["upgrade", RELEASE, "helm_chart/HyperPodHelmChart", "--namespace", NAMESPACE]


def pytorch_job(namespace: str) -> dict[str, Any]:
    worker = {"replicas": 1, "restartPolicy": "OnFailure", "template": _pod("pytorch")}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": "survives-uninstall", "namespace": namespace},
            "spec": {"pytorchReplicaSpecs": {"Worker": worker}}}


def mpi_job(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "kubeflow.org/v2beta1", "kind": "MPIJob",
            "metadata": {"name": "survives-uninstall", "namespace": namespace},
            "spec": {"slotsPerWorker": 1, "mpiReplicaSpecs": {
                "Launcher": {"replicas": 1, "template": _pod("launcher")},
                "Worker": {"replicas": 1, "template": _pod("worker")}}}}


def _pod(container: str) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": container, "image": "example.invalid/train:1"}]}}


# The first commit in which every component of the chart exists.
FIRST_COMPLETE_CHART_COMMIT = "40df739fd0c4d340abafdfa28e023930e6895943"


def test_upgrade_from_the_first_complete_chart(helm3_cli: HelmCli, kube: Kube, clean_release: None,
                                               tmp_path: Path) -> None:
    earlier = checkout_chart(FIRST_COMPLETE_CHART_COMMIT, tmp_path)
    helm3_cli.run("install", RELEASE, str(earlier), "--namespace", NAMESPACE)
    helm3_cli.documented(UPGRADE)
    assert_deployed(helm3_cli, revision=2)
    before = release_objects(helm3_cli, revision=1)
    after = release_objects(helm3_cli, revision=2)

    live = live_objects(kube, after)
    drifted = {key: drift(after[key], live[key]) for key in after if key in live}
    assert sorted(set(after) - set(live)) == [], "objects of the new chart missing after the upgrade"
    assert {key: found for key, found in drifted.items() if found} == {}
    removed = [key for key in set(before) - set(after) if not kept(before[key])]
    assert [key for key in removed if kube.exists(key[0], key[2], key[1] or None)] == []
    kube.wait_release_ready(RELEASE)


def checkout_chart(commit: str, into: Path) -> Path:
    """The umbrella chart as committed then, extracted with git archive."""
    known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"],
                           capture_output=True, text=True, check=False)
    if known.returncode != 0:
        shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
                                 capture_output=True, text=True, check=False).stdout.strip()
        pytest.fail(f"commit {commit} is not in this clone (shallow: {shallow}); the upgrade test needs "
                    "the repository's history: clone without --depth, or run `git fetch --unshallow`")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "helm_chart/HyperPodHelmChart"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "helm_chart/HyperPodHelmChart"


def release_objects(helm: HelmCli, revision: int) -> dict[Identity, Manifest]:
    manifest = helm.run("get", "manifest", RELEASE, "--namespace", NAMESPACE,
                        "--revision", str(revision)).stdout
    return {identity(obj, NAMESPACE): obj for obj in parse_manifests(manifest)}


def live_objects(kube: Kube, wanted: Iterable[Identity]) -> dict[Identity, Manifest]:
    """The objects as the API server holds them, listed kind by kind in one request."""
    kinds = sorted({kind for kind, _, _ in wanted})
    listed = json.loads(kube.run("get", ",".join(kinds), "--all-namespaces", "-o", "json").stdout)["items"]
    return {identity(obj, NAMESPACE): obj for obj in listed}
