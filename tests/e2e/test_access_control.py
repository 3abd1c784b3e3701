"""The chart's RBAC, asked of the real authorizer with `kubectl auth can-i --as/--as-group`.

One install with team-a (the umbrella's computeQuotaTarget.targetId), the scientist cluster
role and the namespaced role; team-b through a second release of the standalone
team-role-and-bindings chart, as documented. Each subject gets what its role's template says
and nothing more: the full rule list of a subject (`can-i --list`), less what every
authenticated user has, must equal the template's grants.

`kubectl auth can-i` resolves `clusterqueues.kueue.x-k8s.io` through discovery; for a type the
server does not serve it sends the whole string as the resource with no group, which no rule
matches, so every answer would be a vacuous "no". Kueue is not part of the chart, so the tests
create a minimal ClusterQueue CRD and wait until discovery serves each type they ask about.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from hyperpod_deps.cli.install import install_command
from hyperpod_deps.localcluster.cluster import ClusterStatus
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import SUBCHARTS
from tests.support.crd_cleanup import delete_crds

pytestmark = pytest.mark.e2e

VALUES = ("--set", "computeQuotaTarget.targetId=team-a", "--set", "cluster-role-and-bindings.enabled=true",
          "--set", "namespaced-role-and-bindings.enabled=true")
# The namespaced role's namespace and team-a's are not created by the chart by default.
PREEXISTING_NAMESPACES = ("kubeflow", "hyperpod-ns-team-a")
KUBEFLOW_CRDS = ("mpijobs.kubeflow.org", "paddlejobs.kubeflow.org", "pytorchjobs.kubeflow.org",
                 "tfjobs.kubeflow.org", "xgboostjobs.kubeflow.org")
CLUSTER_QUEUE_CRD_NAME = "clusterqueues.kueue.x-k8s.io"
CLUSTER_QUEUE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": CLUSTER_QUEUE_CRD_NAME},
    "spec": {"group": "kueue.x-k8s.io", "scope": "Cluster",
             "names": {"plural": "clusterqueues", "singular": "clusterqueue", "kind": "ClusterQueue",
                       "listKind": "ClusterQueueList"},
             "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": {
                 "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}
# update as upstream's roles grant it (it allows nothing patch does not).
JOB_VERBS = ("create", "get", "list", "watch", "patch", "update", "delete")
READ = ("get", "list", "watch")


def _client_grants() -> set[tuple[str, str, str]]:
    """What AWS's SageMaker HyperPod client needs beyond the Kubeflow jobs (docs/client-roles.md)."""
    return ({("hyperpodpytorchjobs.sagemaker.amazonaws.com", "", v) for v in JOB_VERBS}
            | {("hyperpodpytorchjobs.sagemaker.amazonaws.com/status", "", "get"),
               ("configmaps", "", "create"), ("configmaps", "", "delete"), ("secrets", "", "create")})


HYPERPOD_CLIENT = _client_grants()


@dataclass(frozen=True)
class Subject:
    user: str
    groups: tuple[str, ...] = ()

    def args(self) -> list[str]:
        return ["--as", self.user, *(f"--as-group={group}" for group in self.groups)]


TEAM_A = Subject("alice", ("hyperpod-ns-team-a-namespace-level-group",))
TEAM_B = Subject("bob", ("hyperpod-ns-team-b-namespace-level-group",))
SCIENTIST = Subject("carol", ("hyperpod-scientist-user-cluster-role-cluster-level",))
NAMESPACED_SCIENTIST = Subject("dave", ("hyperpod-scientist-user-namespace-level-role-kubeflow-level",))
SERVICE_ROLE = Subject("hyperpod-service-linked-role")
CHECK_POD = Subject("system:serviceaccount:aws-hyperpod:deep-health-check-service-account")
HEALTH_AGENT = Subject("system:serviceaccount:aws-hyperpod:health-monitoring-agent")
RESUME_IDENTITY = Subject("system:serviceaccount:aws-hyperpod:job-auto-restart")
NEURON_PLUGIN = Subject("system:serviceaccount:kube-system:neuron-device-plugin")
TRAINING_OPERATOR = Subject("system:serviceaccount:kubeflow:training-operator")
MPI_OPERATOR = Subject("system:serviceaccount:kube-system:dependencies-mpi-operator")


def grants(resources: tuple[str, ...], verbs: tuple[str, ...], name: str = "") -> set[tuple[str, str, str]]:
    return {(resource, name, verb) for resource in resources for verb in verbs}


@pytest.fixture(scope="module")
def kubectl_rbac(local_cluster: ClusterStatus, kubectl: list[str]) -> Iterator[list[str]]:
    assert local_cluster.kubeconfig is not None
    kubeconfig, helm = str(local_cluster.kubeconfig), str(helm_path(3))

    def helm_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([helm, *args, "--kubeconfig", kubeconfig], capture_output=True, text=True,
                              check=True)

    def reset() -> None:
        for release in json.loads(helm_run("list", "--all-namespaces", "--output", "json").stdout):
            helm_run("uninstall", release["name"], "--namespace", release["namespace"], "--wait")
        delete_crds(kubectl, [*KUBEFLOW_CRDS, CLUSTER_QUEUE_CRD_NAME])
        subprocess.run([*kubectl, "delete", "namespace", *PREEXISTING_NAMESPACES, "--ignore-not-found"],
                       capture_output=True, check=True)

    reset()
    subprocess.run([*kubectl, "create", "-f", "-"], input=json.dumps(CLUSTER_QUEUE_CRD), text=True,
                   capture_output=True, check=True)
    for namespace in PREEXISTING_NAMESPACES:
        subprocess.run([*kubectl, "create", "namespace", namespace], capture_output=True, check=True)
    installed = CliRunner().invoke(install_command, [*VALUES, "--kubeconfig", kubeconfig, "--helm", helm])
    assert installed.exit_code == 0, installed.output
    helm_run("install", "team-b", str(SUBCHARTS / "team-role-and-bindings"), "--namespace", "kube-system",
             "--set", "computeQuotaTarget.targetId=team-b", "--set", "namespace.create=true")
    wait_discoverable(kubectl, {"kubeflow.org/v1": "pytorchjobs", "kubeflow.org/v2beta1": "mpijobs",
                                "kueue.x-k8s.io/v1beta1": "clusterqueues"})
    try:
        yield kubectl
    finally:
        reset()


def wait_discoverable(kubectl: list[str], resources: dict[str, str], timeout_seconds: float = 60) -> None:
    """Discovery serves a new CRD some seconds after it is established; until then can-i asks
    about an unknown type and says no."""
    deadline = time.monotonic() + timeout_seconds
    missing = dict(resources)
    while missing and time.monotonic() < deadline:
        for group_version, resource in list(missing.items()):
            served = subprocess.run([*kubectl, "get", "--raw", f"/apis/{group_version}"],
                                    capture_output=True, text=True, check=False)
            names = {r["name"] for r in json.loads(served.stdout or "{}").get("resources", [])}
            if resource in names:
                del missing[group_version]
        if missing:
            time.sleep(0.5)
    assert not missing, f"not in discovery after {timeout_seconds}s: {missing}"


def can_i(kubectl: list[str], subject: Subject, verb: str, resource: str, namespace: str | None,
          subresource: str | None = None) -> bool:
    where = ["--namespace", namespace] if namespace else ["--all-namespaces"]
    extra = [f"--subresource={subresource}"] if subresource else []
    result = subprocess.run([*kubectl, "auth", "can-i", verb, resource, *where, *extra, *subject.args()],
                            capture_output=True, text=True, check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    assert "doesn't have a resource type" not in result.stderr, result.stderr  # else "no" means nothing
    return answer == "yes"


# One row of `kubectl auth can-i --list`: resource, [non-resource URLs], [resource names], [verbs].
_RULE = re.compile(r"^(?P<resource>\S*)\s+\[(?P<urls>[^\]]*)\]"
                   r"\s+\[(?P<names>[^\]]*)\]\s+\[(?P<verbs>[^\]]*)\]$")


def rules(kubectl: list[str], subject: Subject, namespace: str) -> set[tuple[str, str, str]]:
    """Every (resource, resourceName, verb) the subject holds in the namespace, cluster roles included."""
    listed = subprocess.run([*kubectl, "auth", "can-i", "--list", "--namespace", namespace, *subject.args()],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    found = set()
    for line in listed[1:]:
        match = _RULE.match(line.rstrip())
        assert match, f"unexpected can-i --list line: {line!r}"
        if not match["resource"]:
            continue  # a non-resource URL (/healthz, /version, ...)
        names = match["names"].split() or [""]
        found |= {(match["resource"], name, verb) for name in names for verb in match["verbs"].split()}
    return found


def granted(kubectl: list[str], subject: Subject, namespace: str) -> set[tuple[str, str, str]]:
    """What the chart gives the subject: its rules less those of the same user with no group."""
    return rules(kubectl, subject, namespace) - rules(kubectl, Subject(subject.user), namespace)


def test_team_members_hold_exactly_their_team_role(kubectl_rbac: list[str]) -> None:
    queue = "hyperpod-ns-team-a-clusterqueue"
    expected = (grants(("clusterqueues.kueue.x-k8s.io",), READ, name=queue)
                | grants(("resourceflavors.kueue.x-k8s.io", "workloadpriorityclasses.kueue.x-k8s.io",
                          "priorityclasses.scheduling.k8s.io"), READ)
                | grants(("jobs.batch", "pytorchjobs.kubeflow.org", "mpijobs.kubeflow.org"), JOB_VERBS)
                | grants(("pods", "events", "events.events.k8s.io", "localqueues.kueue.x-k8s.io"), READ)
                | grants(("pods/log",), ("get",))
                | grants(("workloads.kueue.x-k8s.io",), (*READ, "patch"))
                | grants(("namespaces",), ("get", "list"))  # as upstream's team ClusterRole
                | HYPERPOD_CLIENT)
    assert granted(kubectl_rbac, TEAM_A, "hyperpod-ns-team-a") == expected


def test_the_scientist_cluster_role_reads_and_nothing_more(kubectl_rbac: list[str]) -> None:
    expected = grants(("nodes", "namespaces", "priorityclasses.scheduling.k8s.io", "pods"), ("get", "list"))
    assert granted(kubectl_rbac, SCIENTIST, "default") == expected


def test_the_namespaced_role_holds_exactly_its_grants(kubectl_rbac: list[str]) -> None:
    expected = (grants(("pytorchjobs.kubeflow.org", "mpijobs.kubeflow.org", "jobs.batch"), JOB_VERBS)
                | grants(("pods", "events", "events.events.k8s.io"), READ)
                | grants(("pods/log",), ("get",))
                | grants(("namespaces",), ("get",))  # its own namespace, which the client reads
                | HYPERPOD_CLIENT)
    assert granted(kubectl_rbac, NAMESPACED_SCIENTIST, "kubeflow") == expected
    assert granted(kubectl_rbac, NAMESPACED_SCIENTIST, "default") == set()


CASES = [
    # Teams: jobs in their own namespace only, their own ClusterQueue only.
    (TEAM_A, "create", "pytorchjobs.kubeflow.org", "hyperpod-ns-team-a", None, True),
    (TEAM_A, "create", "jobs.batch", "hyperpod-ns-team-a", None, True),
    (TEAM_A, "create", "pytorchjobs.kubeflow.org", "hyperpod-ns-team-b", None, False),
    (TEAM_A, "create", "jobs.batch", "hyperpod-ns-team-b", None, False),
    (TEAM_A, "get", "clusterqueues.kueue.x-k8s.io/hyperpod-ns-team-a-clusterqueue", None, None, True),
    (TEAM_A, "get", "clusterqueues.kueue.x-k8s.io/hyperpod-ns-team-b-clusterqueue", None, None, False),
    (TEAM_A, "list", "clusterqueues.kueue.x-k8s.io", None, None, False),
    (TEAM_A, "update", "pytorchjobs.kubeflow.org", "hyperpod-ns-team-b", None, False),
    (TEAM_A, "create", "pods", "hyperpod-ns-team-a", None, False),
    (TEAM_A, "get", "secrets", "hyperpod-ns-team-a", None, False),
    (TEAM_A, "create", "secrets", "hyperpod-ns-team-a", None, True),  # a recipe job's, never read back
    (TEAM_A, "list", "secrets", "hyperpod-ns-team-a", None, False),
    (TEAM_A, "delete", "configmaps", "hyperpod-ns-team-b", None, False),
    (TEAM_B, "get", "namespaces/hyperpod-ns-team-b", None, None, True),
    (TEAM_B, "create", "pytorchjobs.kubeflow.org", "hyperpod-ns-team-b", None, True),
    (TEAM_B, "create", "pytorchjobs.kubeflow.org", "hyperpod-ns-team-a", None, False),
    (TEAM_B, "get", "clusterqueues.kueue.x-k8s.io/hyperpod-ns-team-b-clusterqueue", None, None, True),
    (TEAM_B, "get", "clusterqueues.kueue.x-k8s.io/hyperpod-ns-team-a-clusterqueue", None, None, False),
    # Scientists read the cluster, write nothing, read no secrets.
    (SCIENTIST, "list", "nodes", None, None, True),
    (SCIENTIST, "delete", "nodes", None, None, False),
    (SCIENTIST, "patch", "nodes", None, None, False),
    (SCIENTIST, "watch", "nodes", None, None, False),
    (SCIENTIST, "list", "pods", None, None, True),
    (SCIENTIST, "get", "pods", "default", "log", False),
    (SCIENTIST, "get", "secrets", "default", None, False),
    (SCIENTIST, "create", "pytorchjobs.kubeflow.org", "kubeflow", None, False),
    (NAMESPACED_SCIENTIST, "create", "pytorchjobs.kubeflow.org", "kubeflow", None, True),
    (NAMESPACED_SCIENTIST, "create", "tfjobs.kubeflow.org", "kubeflow", None, False),
    (NAMESPACED_SCIENTIST, "create", "pods", "kubeflow", "exec", False),
    (NAMESPACED_SCIENTIST, "create", "pytorchjobs.kubeflow.org", "default", None, False),
    (NAMESPACED_SCIENTIST, "list", "nodes", None, None, False),
    # HyperPod's service role: drains through evictions, restarts jobs, launches deep health checks.
    (SERVICE_ROLE, "create", "pods", None, "eviction", True),
    (SERVICE_ROLE, "list", "pods", None, None, True),
    (SERVICE_ROLE, "delete", "pods", None, None, True),
    (SERVICE_ROLE, "patch", "pytorchjobs.kubeflow.org", None, None, True),
    (SERVICE_ROLE, "delete", "pytorchjobs.kubeflow.org", None, None, True),  # upstream's grant
    (SERVICE_ROLE, "create", "pods", "aws-hyperpod", None, True),
    (SERVICE_ROLE, "create", "pods", "kube-system", None, False),
    (SERVICE_ROLE, "delete", "nodes", None, None, False),
    (SERVICE_ROLE, "get", "secrets", None, None, False),
    # The deep health check pods label their node and nothing else.
    (CHECK_POD, "patch", "nodes", None, None, True),
    (CHECK_POD, "delete", "nodes", None, None, False),
    (CHECK_POD, "create", "pods", "aws-hyperpod", None, False),
    (CHECK_POD, "list", "pods", "aws-hyperpod", None, True),
    (CHECK_POD, "get", "secrets", "aws-hyperpod", None, False),
    (CHECK_POD, "update", "nodes", None, None, False),
    # Every other ServiceAccount of the default install (issue 12): what it needs, and the
    # nearest thing it must not have. Admission narrows some grants further (docs/security.md).
    (HEALTH_AGENT, "patch", "nodes", None, None, True),
    (HEALTH_AGENT, "patch", "nodes", None, "status", True),
    (HEALTH_AGENT, "update", "nodes", None, None, False),  # the AWS agent patches
    (HEALTH_AGENT, "delete", "nodes", None, None, False),
    (HEALTH_AGENT, "list", "pods", None, None, False),
    (HEALTH_AGENT, "get", "secrets", "aws-hyperpod", None, False),
    (HEALTH_AGENT, "create", "pods", "aws-hyperpod", None, False),
    (RESUME_IDENTITY, "get", "pods", "aws-hyperpod", None, False),  # bound to nothing
    (RESUME_IDENTITY, "delete", "pods", None, None, False),
    (RESUME_IDENTITY, "list", "nodes", None, None, False),
    (NEURON_PLUGIN, "patch", "pods", None, None, True),
    (NEURON_PLUGIN, "patch", "nodes", None, "status", True),
    (NEURON_PLUGIN, "update", "pods", None, None, False),  # update could swap a pod's image
    (NEURON_PLUGIN, "patch", "nodes", None, None, False),
    (NEURON_PLUGIN, "create", "pods", None, None, False),
    (NEURON_PLUGIN, "get", "secrets", "kube-system", None, False),
    (TRAINING_OPERATOR, "create", "pods", None, None, True),
    (TRAINING_OPERATOR, "update", "pytorchjobs.kubeflow.org", None, "status", True),
    (TRAINING_OPERATOR, "get", "secrets/dependencies-training-operator-webhook-cert", "kubeflow", None, True),
    (TRAINING_OPERATOR, "get", "secrets/another-secret", "kubeflow", None, False),
    (TRAINING_OPERATOR, "get", "secrets", "kube-system", None, False),
    (TRAINING_OPERATOR, "create", "mpijobs.kubeflow.org", "kubeflow", None, False),
    (TRAINING_OPERATOR, "patch", "nodes", None, None, False),
    (MPI_OPERATOR, "create", "pods", None, None, True),
    (MPI_OPERATOR, "create", "secrets", None, None, True),  # each MPIJob's SSH key
    (MPI_OPERATOR, "delete", "secrets", None, None, False),
    (MPI_OPERATOR, "update", "pytorchjobs.kubeflow.org", None, None, False),
    (MPI_OPERATOR, "patch", "nodes", None, None, False),
    (MPI_OPERATOR, "update", "leases.coordination.k8s.io", "kube-system", None, True),
    (MPI_OPERATOR, "update", "leases.coordination.k8s.io", "kubeflow", None, False),
]


@pytest.mark.parametrize(("subject", "verb", "resource", "namespace", "subresource", "allowed"), CASES,
                         ids=[f"{c[0].groups[0] if c[0].groups else c[0].user}-{c[1]}-{c[2]}"
                              f"{'/' + c[4] if c[4] else ''}-{c[3] or 'all'}" for c in CASES])
def test_can_i(kubectl_rbac: list[str], subject: Subject, verb: str, resource: str, namespace: str | None,
               subresource: str | None, allowed: bool) -> None:
    assert can_i(kubectl_rbac, subject, verb, resource, namespace, subresource) is allowed


def test_the_umbrella_and_the_standalone_chart_make_the_same_team_objects(kubectl_rbac: list[str]) -> None:
    def role_rules(team: str) -> object:
        role = json.loads(subprocess.run(
            [*kubectl_rbac, "get", "role", f"hyperpod-ns-{team}-namespace-role", "-n", f"hyperpod-ns-{team}",
             "-o", "json"], capture_output=True, text=True, check=True).stdout)
        return role["rules"]
    assert role_rules("team-a") == role_rules("team-b")
