"""AWS's own SageMaker HyperPod client (sagemaker-hyperpod, `hyp` and its SDK) against the chart's
team roles on the real local control plane, as team members run it.

Two teams from the standalone team-role-and-bindings chart, each creating its namespace; the
kubeflow.org PyTorchJob CRD as the chart renders it, and the HyperPodPyTorchJob CRD as
HyperPod's training operator add-on would install it (tests/support/hyperpod_job_crd.py). People
are client certificates: an admin (system:masters), alice in team-a's group, bob in team-b's.
Every run of the client goes through the offline guard; each test checks that the only thing
it tried to reach beyond this machine was the client's telemetry host, and that it was stopped
at the name lookup (docs/client-roles.md lists the calls).
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from hyperpod_deps.core.instance_types import efa_capable
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.localcluster.cluster import ClusterStatus
from hyperpod_deps.toolchain import hyperpod_client
from hyperpod_deps.toolchain.helm import helm_path
from tests.support import kubeflow_support
from tests.support.charts import SUBCHARTS
from tests.support.crd_cleanup import delete_crds
from tests.support.hyperpod_client_support import ClientAs, Outcome, Person
from tests.support.hyperpod_job_crd import CRD as HYPERPOD_JOB_CRD
from tests.support.kube_support import Kube

pytestmark = pytest.mark.e2e

TEAM_A, TEAM_B = "hyperpod-ns-team-a", "hyperpod-ns-team-b"
MANAGED_QUEUE_LABEL = "sagemaker.amazonaws.com/sagemaker-managed-queue"
ADMIN = Person("hp-admin", ("system:masters",))
ALICE = Person("alice", ("hyperpod-ns-team-a-namespace-level-group",))
BOB = Person("bob", ("hyperpod-ns-team-b-namespace-level-group",))
TELEMETRY_HOST = ".amazonaws.com"


def assert_offline(outcome: Outcome) -> Outcome:
    """The client tried to reach nothing but its telemetry host, and that only by name."""
    assert all(r.startswith("refused lookup ") and r.endswith(TELEMETRY_HOST) for r in outcome.refused), (
        outcome.refused)
    return outcome


@pytest.fixture(scope="module")
def teams(local_cluster: ClusterStatus, kube: Kube, kubectl: list[str]) -> Iterator[Kube]:
    hyperpod_client.installed()  # fails with `make tools` named when the client is missing
    assert local_cluster.kubeconfig is not None
    helm = [str(helm_path(3)), "--kubeconfig", str(local_cluster.kubeconfig), "--namespace", "kube-system"]
    releases = {"client-team-a": "team-a", "client-team-b": "team-b"}

    def uninstall() -> None:
        for release in releases:
            subprocess.run([*helm, "uninstall", release, "--wait", "--ignore-not-found"], capture_output=True,
                           check=True)
        kube.wait_gone("namespace", [TEAM_A, TEAM_B])

    uninstall()
    kube.delete("namespace", [TEAM_A, TEAM_B])
    kube.wait_gone("namespace", [TEAM_A, TEAM_B])
    pytorch_crd = [c for c in kubeflow_support.chart_crds(helm_path(4))
                   if c["metadata"]["name"] == "pytorchjobs.kubeflow.org"]
    kubeflow_support.apply_crds(kube, [*pytorch_crd, HYPERPOD_JOB_CRD])
    for release, team in releases.items():
        subprocess.run([*helm, "install", release, str(SUBCHARTS / "team-role-and-bindings"), "--set",
                        f"computeQuotaTarget.targetId={team}", "--set", "namespace.create=true"],
                       capture_output=True, text=True, check=True)
    try:
        yield kube
    finally:
        uninstall()
        delete_crds(kubectl, [HYPERPOD_JOB_CRD["metadata"]["name"]])


@pytest.fixture(scope="module")
def people(local_cluster: ClusterStatus, teams: Kube, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, ClientAs]:
    home = tmp_path_factory.mktemp("hyperpod-client")
    return {p.name: ClientAs.issue(local_cluster, p, home / p.name) for p in (ADMIN, ALICE, BOB)}


def pytorchjob(name: str, namespace: str) -> dict[str, object]:
    container = {"name": "pytorch", "image": "docker.io/pytorch/pytorch:latest"}
    master = {"replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": {"containers": [container]}}}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"pytorchReplicaSpecs": {"Master": master}}}


def submit(client: ClientAs, *objects: dict[str, object]) -> Outcome:
    """What a recipe job's submission does with its rendered manifests (the client's own function)."""
    manifest = client.home / "submit.yaml"
    manifest.write_text("\n---\n".join(json.dumps(o) for o in objects))
    return assert_offline(client.sdk("submit-recipe", str(manifest)))


def test_the_team_namespace_is_labelled_as_task_governance_does(teams: Kube) -> None:
    for namespace in (TEAM_A, TEAM_B):
        found = teams.get("namespace", namespace)
        assert found is not None
        assert found["metadata"]["labels"][MANAGED_QUEUE_LABEL] == "true"


def test_the_telemetry_is_stopped_before_it_leaves(people: dict[str, ClientAs]) -> None:
    listed = assert_offline(people["alice"].hyp("list", "hyp-pytorch-job", "--namespace", TEAM_A))
    assert listed.returncode == 0, listed.output
    assert [r for r in listed.refused if "sm-pysdk-t-" in r], "the client sent no telemetry: guard untested"


def test_pytorchjob_classes_list_get_and_cancel_in_the_team_namespace(
        people: dict[str, ClientAs], teams: Kube) -> None:
    alice, bob = people["alice"], people["bob"]
    assert submit(people["hp-admin"], pytorchjob("legacy", TEAM_A)).returncode == 0
    # No namespace given: the client finds team-a's by its label and an access review.
    listed = assert_offline(alice.sdk("pytorchjob-list", "-"))
    assert listed.returncode == 0, listed.output
    assert [(j["Name"], j["Namespace"]) for j in json.loads(listed.stdout)["jobs"]] == [("legacy", TEAM_A)]
    got = assert_offline(alice.sdk("pytorchjob-get", "legacy", TEAM_A))
    assert got.returncode == 0, got.output
    assert json.loads(got.stdout)["Name"] == "legacy"
    for refused in (bob.sdk("pytorchjob-list", TEAM_A), bob.sdk("pytorchjob-get", "legacy", TEAM_A),
                    bob.sdk("pytorchjob-cancel", "legacy", TEAM_A)):
        assert refused.returncode == 1 and "(403)" in assert_offline(refused).stderr, refused.output
    assert teams.exists("pytorchjob", "legacy", TEAM_A)
    cancelled = assert_offline(alice.sdk("pytorchjob-cancel", "legacy", TEAM_A))
    assert cancelled.returncode == 0, cancelled.output
    teams.wait_gone("pytorchjob", ["legacy"], TEAM_A)


def test_hyp_create_list_describe_delete_a_hyperpod_pytorch_job(
        people: dict[str, ClientAs], teams: Kube) -> None:
    alice, bob = people["alice"], people["bob"]
    created = assert_offline(alice.hyp(
        "create", "hyp-pytorch-job", "--job-name", "demo", "--image", "docker.io/pytorch/pytorch:latest",
        "--namespace", TEAM_A, "--queue-name", f"{TEAM_A}-localqueue", "--priority", "high",
        "--max-retry", "2"))
    assert created.returncode == 0, created.output
    assert "Successfully submitted HyperPodPytorchJob 'demo'!" in created.output
    job = teams.get("hyperpodpytorchjob", "demo", TEAM_A)
    assert job is not None
    assert job["metadata"]["labels"] == {"kueue.x-k8s.io/queue-name": f"{TEAM_A}-localqueue",
                                         "kueue.x-k8s.io/priority-class": "high"}
    assert job["spec"]["runPolicy"]["jobMaxRetryCount"] == 2

    listed = assert_offline(alice.hyp("list", "hyp-pytorch-job", "--namespace", TEAM_A))
    assert listed.returncode == 0
    assert [line.split()[:2] for line in listed.stdout.splitlines() if line.startswith("demo")] == [
        ["demo", TEAM_A]]
    described = assert_offline(alice.hyp("describe", "hyp-pytorch-job", "--job-name", "demo", "-n", TEAM_A))
    assert described.returncode == 0
    assert "Name:           demo" in described.stdout
    assert "Image:           docker.io/pytorch/pytorch:latest" in described.stdout

    for command in (("list", "hyp-pytorch-job", "-n", TEAM_A),
                    ("describe", "hyp-pytorch-job", "--job-name", "demo", "-n", TEAM_A),
                    ("delete", "hyp-pytorch-job", "--job-name", "demo", "-n", TEAM_A),
                    ("create", "hyp-pytorch-job", "--job-name", "intruder", "--image", "x",
                     "--namespace", TEAM_A)):
        refused = assert_offline(bob.hyp(*command))
        assert refused.returncode == 1 and "Access denied to resource" in refused.output, refused.output
        assert f"in namespace '{TEAM_A}'" in refused.output
    assert teams.exists("hyperpodpytorchjob", "demo", TEAM_A)
    assert not teams.exists("hyperpodpytorchjob", "intruder", TEAM_A)

    deleted = assert_offline(alice.hyp("delete", "hyp-pytorch-job", "--job-name", "demo", "-n", TEAM_A))
    assert deleted.returncode == 0 and "Successful deleted HyperPodPytorchJob 'demo'!" in deleted.output
    teams.wait_gone("hyperpodpytorchjob", ["demo"], TEAM_A)


def recipe_objects(job: str, namespace: str) -> list[Manifest]:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"config.yaml": "a: 1"},
              "metadata": {"name": f"training-config-{job}", "namespace": namespace}}
    secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"token": "not-a-real-token"},
              "metadata": {"name": f"{job}-token", "namespace": namespace}}
    container = {"name": "pytorch-job-container", "image": "docker.io/pytorch/pytorch:latest"}
    hyperpod_job = {"apiVersion": "sagemaker.amazonaws.com/v1", "kind": "HyperPodPyTorchJob",
                    "metadata": {"name": job, "namespace": namespace},
                    "spec": {"nprocPerNode": "auto", "runPolicy": {"jobMaxRetryCount": 1},
                             "replicaSpecs": [{"name": "pod", "replicas": 1,
                                               "template": {"spec": {"containers": [container]}}}]}}
    return [config, secret, hyperpod_job]


def test_a_recipe_jobs_configmap_goes_with_hyp_delete(people: dict[str, ClientAs], teams: Kube) -> None:
    alice, bob = people["alice"], people["bob"]
    refused = submit(bob, *recipe_objects("intruder", TEAM_A))
    assert refused.returncode == 1 and "Forbidden" in refused.stderr, refused.output
    assert not teams.exists("configmap", "training-config-intruder", TEAM_A)

    submitted = submit(alice, *recipe_objects("recipe", TEAM_A))
    assert submitted.returncode == 0, submitted.output
    assert teams.exists("secret", "recipe-token", TEAM_A)
    assert teams.exists("configmap", "training-config-recipe", TEAM_A)
    deleted = assert_offline(alice.hyp("delete", "hyp-pytorch-job", "--job-name", "recipe", "-n", TEAM_A))
    assert deleted.returncode == 0, deleted.output
    assert "Deleted ConfigMap 'training-config-recipe'" in deleted.output
    teams.wait_gone("configmap", ["training-config-recipe"], TEAM_A)
    teams.wait_gone("hyperpodpytorchjob", ["recipe"], TEAM_A)


def test_team_b_is_refused_everything_in_team_a(people: dict[str, ClientAs]) -> None:
    """The access reviews the client's namespace discovery makes: bob finds only his own team."""
    listed = assert_offline(people["bob"].sdk("pytorchjob-list", "-"))
    assert listed.returncode == 0, listed.output
    assert json.loads(listed.stdout) == {"jobs": []}
    admin = assert_offline(people["hp-admin"].hyp("list", "hyp-pytorch-job", "-n", TEAM_B))
    assert admin.returncode == 0 and "No jobs found." in admin.stdout, admin.output




def test_every_instance_type_the_client_accepts_efa_on_runs_the_efa_plugin() -> None:
    """The client's own table (sagemaker.hyperpod.training.constants.INSTANCE_RESOURCES: `efa` > 0
    is what `--efa` is validated against) against the one source of the chart's EFA list."""
    script = ("import json; from sagemaker.hyperpod.training.constants import INSTANCE_RESOURCES as r; "
              "print(json.dumps(sorted(t for t, v in r.items() if v.get('efa', 0) > 0)))")
    listed = subprocess.run([str(hyperpod_client.python()), "-W", "ignore", "-c", script],
                            capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    client_efa = set(json.loads(listed.stdout))
    assert len(client_efa) > 30, client_efa  # the table was read, not an empty stand-in
    assert client_efa - set(efa_capable()) == set()
