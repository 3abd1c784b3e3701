"""The controller's cluster index: which jobs an update concerns, and the faults under a job."""

from __future__ import annotations

from typing import Any

from hyperpod_deps.autorestart.faults import Trigger
from hyperpod_deps.autorestart.index import ClusterIndex, job_view
from hyperpod_deps.core import wire

NOW = 1_900_000_000.0
KEY = ("PyTorchJob", "team", "train")


def job(uid: str = "job-uid", name: str = "train", kind: str = "PyTorchJob", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": uid,
            "resourceVersion": "1",
            "annotations": {wire.AUTO_RESUME_ANNOTATION: "true"},
        },
        "spec": {"pytorchReplicaSpecs": {"Worker": {"restartPolicy": "OnFailure"}}},
        "status": status,
    }


def pod(
    name: str,
    node: str | None,
    owner: str = "job-uid",
    job_name: str = "train",
    kind: str = "PyTorchJob",
    **extra: Any,
) -> dict[str, Any]:
    api = "batch/v1" if kind == "Job" else "kubeflow.org/v1"
    return {
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": f"uid-{name}",
            "labels": {"training.kubeflow.org/job-name": job_name},
            "ownerReferences": [
                {
                    "apiVersion": api,
                    "kind": kind,
                    "name": f"{job_name}-launcher",
                    "uid": owner,
                    "controller": True,
                }
            ],
            **extra,
        },
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": "Running"},
    }


def node(name: str, health: str = "Schedulable", rv: str = "1", uid: str | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": uid or f"uid-{name}",
            "resourceVersion": rv,
            "labels": {wire.NODE_HEALTH_LABEL: health},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def index_with(*pods: dict[str, Any], nodes: tuple[str, ...] = ("n1", "n2")) -> ClusterIndex:
    index = ClusterIndex()
    index.resync_jobs("PyTorchJob", [job()])
    index.resync_pods(list(pods), NOW)
    index.resync_nodes([node(n) for n in nodes], NOW)
    return index


def test_pods_belong_to_the_job_that_controls_them() -> None:
    index = index_with(pod("w0", "n1"), pod("w1", "n2"), pod("stranger", "n1", owner="other-uid"))
    assert [p.name for p in index.pods_of(KEY)] == ["w0", "w1"]


def test_a_node_turning_unschedulable_concerns_the_jobs_on_it() -> None:
    index = index_with(pod("w0", "n1"))
    assert index.change_node("MODIFIED", node("n2", "UnschedulablePendingReboot"), NOW) == set()
    assert index.change_node("MODIFIED", node("n1", "UnschedulablePendingReboot", rv="2"), NOW) == {KEY}
    [fault] = index.faults_of(KEY)
    assert fault.trigger is Trigger.UNSCHEDULABLE and fault.node == "n1"
    # A later change that keeps the same fault (a heartbeat) is not news.
    assert index.change_node("MODIFIED", node("n1", "UnschedulablePendingReboot", rv="3"), NOW + 5) == set()
    assert index.faults_of(KEY)[0].key == fault.key


def test_a_deleted_node_is_a_fault_for_the_pods_still_bound_to_it() -> None:
    index = index_with(pod("w0", "n1"))
    assert index.change_node("DELETED", node("n1"), NOW) == {KEY}
    [fault] = index.faults_of(KEY)
    assert (fault.trigger, fault.node_uid) == (Trigger.NODE_DELETED, "uid-n1")


def test_nodes_missing_from_the_first_list_were_deleted_before_the_controller_started() -> None:
    index = index_with(pod("w0", "gone"), nodes=("n1",))
    [fault] = index.faults_of(KEY)
    assert fault.trigger is Trigger.NODE_DELETED and fault.node == "gone"


def test_a_node_missing_from_a_relist_was_deleted_meanwhile() -> None:
    index = index_with(pod("w0", "n2"))
    assert index.resync_nodes([node("n1")], NOW) == {KEY}
    assert index.faults_of(KEY)[0].trigger is Trigger.NODE_DELETED


def test_pod_updates_concern_their_job_and_moves_are_followed() -> None:
    index = index_with(pod("w0", None))
    assert index.change_pod("MODIFIED", pod("w0", "n1"), NOW) == {KEY}
    index.change_node("MODIFIED", node("n1", "Unschedulable", rv="2"), NOW)
    assert index.faults_of(KEY)
    assert index.change_pod("DELETED", pod("w0", "n1"), NOW) == {KEY}
    assert index.pods_of(KEY) == []
    assert index.faults_of(KEY) == []


def test_the_mpi_launcher_is_traced_through_its_batch_job() -> None:
    launcher = pod("launcher", "n1", owner="batch-uid", kind="Job")
    index = index_with(pod("w0", "n2"), launcher)
    assert [p.name for p in index.pods_of(KEY)] == ["w0"]
    assert index.unresolved_owners() == {("team", "train-launcher", "batch-uid")}
    assert index.add_intermediate("batch-uid", "job-uid") == {KEY}
    assert [p.name for p in index.pods_of(KEY)] == ["launcher", "w0"]
    assert index.unresolved_owners() == set()


def test_a_job_relist_forgets_deleted_jobs() -> None:
    index = index_with(pod("w0", "n1"))
    assert index.resync_jobs("PyTorchJob", []) == set()
    assert KEY not in index.jobs
    assert index.pods_of(KEY) == []


def test_job_view_reads_the_opt_in_the_budget_and_the_end() -> None:
    view = job_view(job(conditions=[{"type": "Succeeded", "status": "True"}]))
    assert view.opted_in and view.finished
    assert view.max_retries == 1  # the annotation is absent: the default budget
    assert view.blocking == ()
    broken = job()
    broken["spec"]["pytorchReplicaSpecs"]["Worker"]["restartPolicy"] = "Never"
    assert "restartPolicy" in job_view(broken).blocking[0]


def versioned(rv: str, marker: str) -> dict[str, Any]:
    obj = job()
    obj["metadata"].update(resourceVersion=rv, annotations={"state": marker})
    return obj


def test_watch_events_older_than_our_own_write_are_ignored_until_the_write_comes_through() -> None:
    index = ClusterIndex()
    index.change_job("ADDED", versioned("10", "in-progress"))
    index.own_write(versioned("12", "done"))
    # The watch still delivers the version before our write: it must not bring "in-progress" back.
    assert index.change_job("MODIFIED", versioned("11", "in-progress")) == set()
    assert index.jobs[("PyTorchJob", "team", "train")]["metadata"]["annotations"]["state"] == "done"
    # Our own write arrives through the watch; from then on every event is newer and is taken.
    assert index.change_job("MODIFIED", versioned("12", "done"))
    assert index.change_job("MODIFIED", versioned("13", "edited by a person"))
    assert index.jobs[("PyTorchJob", "team", "train")]["metadata"]["annotations"]["state"] == \
        "edited by a person"


def test_a_relist_supersedes_an_awaited_write() -> None:
    index = ClusterIndex()
    index.own_write(versioned("12", "done"))
    index.resync_jobs("PyTorchJob", [versioned("15", "relisted")])
    assert index.change_job("MODIFIED", versioned("16", "later"))
    assert index.jobs[("PyTorchJob", "team", "train")]["metadata"]["annotations"]["state"] == "later"
