"""Job auto-restart on the local control plane, with the real training and MPI operators.

The chart (job-auto-restart only) is installed with Helm; its controller runs as two local
processes (kwok runs no containers) authenticated with a token of the chart's ServiceAccount, so
every call it makes passes through the chart's RBAC. The tests mark nodes faulty the way the
health agent does (label + taint) and watch jobs come back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hyperpod_deps.localcluster.cluster import ClusterStatus
from hyperpod_deps.localcluster.nodespec import InstanceGroup, node_object
from hyperpod_deps.localcluster.operators import RunningOperator, TrainingOperator
from tests.support import autorestart_support as ar
from tests.support.helm_support import HelmCli
from tests.support.kube_support import ApiObject, Kube
from tests.support.kubeflow_support import phases_by_role, pytorchjob
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e

RESTART_TIMEOUT = 90


@pytest.fixture(scope="module")
def chart(helm4_cli: HelmCli, kube: Kube) -> Iterator[None]:
    with ar.chart_installed(helm4_cli, kube):
        yield


@pytest.fixture(scope="module")
def controllers(
    chart: None,
    kube: Kube,
    local_cluster: ClusterStatus,
    training_operator: TrainingOperator,
    mpi_operator: RunningOperator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ar.Controllers]:
    """Two replicas, as the chart's Deployment runs them; one leads."""
    assert local_cluster.kubeconfig is not None
    folder = tmp_path_factory.mktemp("auto-restart")
    with ar.controllers_running(kube, Path(local_cluster.kubeconfig), folder) as manager:
        yield manager


def leader(kube: Kube, controllers: ar.Controllers) -> ar.Controller:
    return ar.wait_leader(kube, controllers.alive())


def restarted(
    kube: Kube, job: str, namespace: str, before: list[ApiObject], count: int, faulty: set[str]
) -> list[ApiObject]:
    """Every pod replaced (new uids), all Running, none on a faulty node."""
    return poll(
        lambda: ar.pods_of(kube, job, namespace),
        lambda pods: (
            ar.running(pods, count) and not ar.uids(pods) & ar.uids(before) and not ar.nodes_of(pods) & faulty
        ),
        f"{namespace}/{job}: {count} new pods Running off {sorted(faulty)}",
        RESTART_TIMEOUT,
    )


def test_the_controller_has_exactly_the_charts_rbac(controllers: ar.Controllers, kube: Kube) -> None:
    def may(verb: str, resource: str, group: str = "", namespace: str = "", name: str = "") -> bool:
        return kube.allowed(
            ar.SERVICE_ACCOUNT, "system:serviceaccounts", verb, resource, group, namespace, name
        )

    assert may("patch", "pytorchjobs", "kubeflow.org") and may("watch", "mpijobs", "kubeflow.org")
    assert may("delete", "pods") and may("list", "nodes")
    assert may("update", "leases", "coordination.k8s.io", ar.NAMESPACE, ar.FULLNAME)
    assert not may("delete", "pytorchjobs", "kubeflow.org"), "jobs are never deleted"
    assert not may("update", "pytorchjobs", "kubeflow.org"), "the record is a patch"
    assert not may("patch", "nodes"), "nodes are the health agent's"
    assert not may("create", "pods")
    assert not may("get", "secrets", namespace=ar.NAMESPACE)
    assert not may("update", "leases", "coordination.k8s.io", ar.NAMESPACE, "someone-elses-lease")
    assert not may("update", "leases", "coordination.k8s.io", "kube-system", ar.FULLNAME)


def test_a_pytorchjob_comes_back_off_the_faulty_node_and_an_unannotated_one_is_left_alone(
    controllers: ar.Controllers,
    kube: Kube,
    fresh_namespace: Callable[[str], str],
    faults: Callable[[str], None],
) -> None:
    namespace = fresh_namespace("ar-e2e-pytorch")
    kube.create(ar.resumable_pytorchjob("llama", namespace))
    before = ar.wait_running(kube, "llama", namespace, 3)
    node = next(p["spec"]["nodeName"] for p in before if p["metadata"]["name"] == "llama-worker-1")
    # A job without the annotations, all of it on the same node.
    kube.create(ar.pinned(pytorchjob("untouched", namespace), node))
    bystanders = ar.wait_running(kube, "untouched", namespace, 3)

    faults(node)
    after = restarted(kube, "llama", namespace, before, 3, {node})

    # The controller writes the restart finished after deleting the pods and recording its event
    # (once more after a conflict with the operator's status writes): the new pods can be Running
    # before that patch lands, so the record is waited for, not read once.
    record = poll(lambda: ar.job_annotations(kube, "pytorchjob", "llama", namespace),
                  lambda found: found.get(ar.STATUS, "").startswith("Restarted"),
                  "the record to say the restart is finished", 30)
    assert record[ar.COUNT] == "1"
    assert record[ar.STATUS].startswith("Restarted 1 time(s)")
    events = ar.job_events(kube, "llama", namespace)
    assert ar.reasons(events).count("AutoRestart") == 1
    assert node in next(e for e in events if e["reason"] == "AutoRestart")["message"]
    assert ar.uids(ar.pods_of(kube, "untouched", namespace)) == ar.uids(bystanders)
    assert ar.COUNT not in ar.job_annotations(kube, "pytorchjob", "untouched", namespace)
    # Exactly one restart: the pods stay the same while the node stays faulty.
    assert ar.uids(ar.wait_running(kube, "llama", namespace, 3)) == ar.uids(after)
    metrics = leader(kube, controllers).metrics()
    assert (
        'hyperpod_deps_auto_restart_restarts_total{kind="PyTorchJob",reason="NodeUnschedulable"}' in metrics
    )


def test_an_mpijob_comes_back_launcher_included(
    controllers: ar.Controllers,
    kube: Kube,
    fresh_namespace: Callable[[str], str],
    faults: Callable[[str], None],
) -> None:
    """kwok completes a batch Job's pod the moment it runs, which would end the MPIJob at once
    (its launcher is a batch Job); the launcher is held Pending on a label no node has, so the
    job keeps running with its workers, as a real MPIJob does while mpirun works."""
    namespace = fresh_namespace("ar-e2e-mpi")
    job = ar.resumable_mpijob("allreduce", namespace)
    job["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["nodeSelector"] = {
        ar.HOLD_LABEL: "pending"
    }
    kube.create(job)
    shape = {"launcher": ["Pending"], "worker": ["Running", "Running"]}
    before = poll(
        lambda: ar.pods_of(kube, "allreduce", namespace),
        lambda pods: phases_by_role(pods) == shape,
        "2 Running workers and the launcher (held Pending)",
        120,
    )
    worker = next(p for p in before if p["metadata"]["name"] == "allreduce-worker-0")
    node = worker["spec"]["nodeName"]

    faults(node)
    after = poll(
        lambda: ar.pods_of(kube, "allreduce", namespace),
        lambda pods: (
            phases_by_role(pods) == shape
            and not ar.uids(pods) & ar.uids(before)
            and node not in ar.nodes_of(pods)
        ),
        "new workers Running off the faulty node and a new launcher pod",
        RESTART_TIMEOUT,
    )

    assert len(after) == 3
    assert ar.job_annotations(kube, "mpijob", "allreduce", namespace)[ar.COUNT] == "1"
    events = ar.job_events(kube, "allreduce", namespace)
    assert "deleted its 3 pod(s)" in next(e for e in events if e["reason"] == "AutoRestart")["message"]


def test_the_budget_runs_out_with_an_event_and_a_status(
    controllers: ar.Controllers,
    kube: Kube,
    fresh_namespace: Callable[[str], str],
    faults: Callable[[str], None],
) -> None:
    namespace = fresh_namespace("ar-e2e-budget")
    kube.create(ar.resumable_pytorchjob("short", namespace, retries="1"))
    first = ar.wait_running(kube, "short", namespace, 3)
    node = first[0]["spec"]["nodeName"]
    faults(node)
    second = restarted(kube, "short", namespace, first, 3, {node})

    another = second[0]["spec"]["nodeName"]
    faults(another)
    poll(
        lambda: ar.reasons(ar.job_events(kube, "short", namespace)),
        lambda found: "AutoRestartBudgetExhausted" in found,
        "the budget-exhausted Event",
        RESTART_TIMEOUT,
    )

    record = ar.job_annotations(kube, "pytorchjob", "short", namespace)
    assert record[ar.COUNT] == "1"
    assert record[ar.STATUS].startswith("Exhausted: 1 restart(s) used of 1")
    assert ar.uids(ar.pods_of(kube, "short", namespace)) == ar.uids(second), "not restarted again"


def test_a_job_that_cannot_be_resumed_gets_an_event_saying_what_to_change(
    controllers: ar.Controllers,
    kube: Kube,
    fresh_namespace: Callable[[str], str],
    faults: Callable[[str], None],
) -> None:
    namespace = fresh_namespace("ar-e2e-invalid")
    job = ar.resumable_pytorchjob("never", namespace)
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"] = "Never"
    kube.create(job)
    before = ar.wait_running(kube, "never", namespace, 3)
    events = poll(
        lambda: ar.job_events(kube, "never", namespace),
        lambda found: "AutoRestartNotPossible" in ar.reasons(found),
        "the not-possible Event",
        60,
    )
    message = next(e for e in events if e["reason"] == "AutoRestartNotPossible")["message"]
    assert "spec.pytorchReplicaSpecs.Worker.restartPolicy: is Never" in message
    assert "Set spec.pytorchReplicaSpecs.Worker.restartPolicy: OnFailure" in message

    faults(before[0]["spec"]["nodeName"])
    # The controller saw the fault under the job and left the job alone, saying why.
    current = leader(kube, controllers)
    poll(
        current.logs,
        lambda lines: any(
            line.get("msg") == "not restarting"
            and line.get("job") == f"{namespace}/never"
            and "cannot be resumed" in line.get("reason", "")
            for line in lines
        ),
        "the controller's decision about the job",
        60,
    )
    assert not [
        line for line in current.logs() if line.get("msg") == "restarting job" and "never" in line["job"]
    ]
    assert ar.uids(ar.pods_of(kube, "never", namespace)) == ar.uids(before)
    assert ar.COUNT not in ar.job_annotations(kube, "pytorchjob", "never", namespace)


@pytest.fixture
def spare_node(kube: Kube) -> Iterator[str]:
    """A node of its own for a test that deletes it (the session's nodes are shared)."""
    name = f"ar-e2e-spare-{os.getpid()}"
    group = InstanceGroup("spare", "ml.p5.48xlarge", 1, "us-west-2a")
    kube.create(node_object(name, group, "us-west-2"))
    poll(
        lambda: kube.get("node", name),
        lambda node: (
            node is not None
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in node.get("status", {}).get("conditions", [])
            )
        ),
        f"node {name} Ready",
        60,
    )
    yield name
    kube.delete("node", [name])


def test_a_job_whose_node_is_deleted_comes_back_elsewhere(
    controllers: ar.Controllers, kube: Kube, fresh_namespace: Callable[[str], str], spare_node: str
) -> None:
    namespace = fresh_namespace("ar-e2e-deleted")
    job = ar.resumable_pytorchjob("orphan", namespace)
    for spec in job["spec"]["pytorchReplicaSpecs"].values():  # drawn to the spare node, not bound to it
        spec["template"]["spec"]["affinity"]["nodeAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ] = [
            {
                "weight": 100,
                "preference": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [spare_node]}
                    ]
                },
            }
        ]
    kube.create(job)
    before = ar.wait_running(kube, "orphan", namespace, 3)
    assert ar.nodes_of(before) == {spare_node}

    kube.delete("node", [spare_node])
    restarted(kube, "orphan", namespace, before, 3, {spare_node})

    assert ar.job_annotations(kube, "pytorchjob", "orphan", namespace)[ar.COUNT] == "1"
    message = next(e for e in ar.job_events(kube, "orphan", namespace) if e["reason"] == "AutoRestart")[
        "message"
    ]
    assert f"NodeDeleted on node {spare_node}" in message


def test_killed_mid_restart_the_restart_is_finished_once_and_counted_once(
    controllers: ar.Controllers,
    kube: Kube,
    fresh_namespace: Callable[[str], str],
    faults: Callable[[str], None],
) -> None:
    """The leader writes the record, then cannot delete (the test takes that right away), and is
    killed there. The survivor and the restarted process find the unfinished restart."""
    namespace = fresh_namespace("ar-e2e-crash")
    kube.create(ar.resumable_pytorchjob("crash", namespace))
    before = ar.wait_running(kube, "crash", namespace, 3)
    node = before[0]["spec"]["nodeName"]
    first = leader(kube, controllers)
    with revoked_pod_deletion(kube):
        faults(node)
        poll(
            lambda: ar.job_annotations(kube, "pytorchjob", "crash", namespace).get(ar.RECORD, ""),
            lambda record: '"inProgress"' in record,
            "the in-progress record on the job",
            60,
        )
        assert ar.job_annotations(kube, "pytorchjob", "crash", namespace)[ar.COUNT] == "1"
        first.kill()
        controllers.start(f"{first.identity}-restarted")
        assert ar.uids(ar.pods_of(kube, "crash", namespace)) == ar.uids(before), "nothing deleted yet"
    restarted(kube, "crash", namespace, before, 3, {node})

    record = poll(
        lambda: ar.job_annotations(kube, "pytorchjob", "crash", namespace),
        lambda found: '"inProgress"' not in found.get(ar.RECORD, ""),
        "the restart to be finished",
        60,
    )
    assert record[ar.COUNT] == "1", "counted once"
    found = ar.reasons(ar.job_events(kube, "crash", namespace))
    assert "AutoRestartResumed" in found and "AutoRestart" not in found


def test_when_the_leader_dies_the_standby_takes_over(
    controllers: ar.Controllers,
    kube: Kube,
    fresh_namespace: Callable[[str], str],
    faults: Callable[[str], None],
) -> None:
    alive = controllers.alive()
    assert len(alive) >= 2
    old = leader(kube, controllers)
    assert all(c.healthz() == 200 for c in alive), "the standby is healthy too"
    old.kill()
    new = ar.wait_leader(kube, [c for c in alive if c is not old], timeout=30)
    assert new is not old

    namespace = fresh_namespace("ar-e2e-failover")
    kube.create(ar.resumable_pytorchjob("failover", namespace))
    before = ar.wait_running(kube, "failover", namespace, 3)
    node = before[0]["spec"]["nodeName"]
    faults(node)
    restarted(kube, "failover", namespace, before, 3, {node})
    assert ar.job_annotations(kube, "pytorchjob", "failover", namespace)[ar.COUNT] == "1"
    assert [line for line in new.logs() if line.get("msg") == "restarting job" and "failover" in line["job"]]
    controllers.start(f"{old.identity}-back")


def _set_pod_verbs(kube: Kube, verbs: list[str]) -> None:
    cluster_role = kube.get("clusterrole", ar.FULLNAME)
    assert cluster_role is not None
    index = next(i for i, r in enumerate(cluster_role["rules"]) if r.get("resources") == ["pods"])
    patch = json.dumps([{"op": "replace", "path": f"/rules/{index}/verbs", "value": verbs}])
    kube.run("patch", "clusterrole", ar.FULLNAME, "--type=json", "-p", patch)
    allowed = "delete" in verbs
    poll(
        lambda: kube.allowed(ar.SERVICE_ACCOUNT, "system:serviceaccounts", "delete", "pods"),
        lambda now: now is allowed,
        f"delete pods allowed={allowed}",
        30,
    )


@contextmanager
def revoked_pod_deletion(kube: Kube) -> Iterator[None]:
    """Takes `delete pods` from the controller's ClusterRole, and gives it back."""
    _set_pod_verbs(kube, ["list", "watch"])
    try:
        yield
    finally:
        _set_pod_verbs(kube, ["list", "watch", "delete"])
