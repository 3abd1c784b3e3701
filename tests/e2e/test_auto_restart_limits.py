"""The auto-restart controller's blast radius on the local control plane (docs/security.md).

- The chart's ValidatingAdmissionPolicy refuses the controller's ServiceAccount any pod delete
  but of a pod its job kinds control (the controller's real deletes of PyTorchJob and MPIJob
  pods pass through it in test_auto_restart.py, which installs the same chart).
- The guard: with maxJobPercent 50 and two opted-in jobs, faults under both restart one of them
  and hold the other, with an AutoRestartPaused Event saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hyperpod_deps.core import wire
from hyperpod_deps.localcluster.cluster import ClusterStatus
from hyperpod_deps.localcluster.operators import TrainingOperator
from tests.support import autorestart_support as ar
from tests.support.helm_support import HelmCli
from tests.support.kube_support import Kube, KubectlFailed
from tests.support.waiting import poll

pytestmark = pytest.mark.e2e

LIMITS = ("job-auto-restart.controller.blastRadius.maxJobPercent=50",
          "job-auto-restart.controller.blastRadius.maxNodePercent=100")
TIMEOUT = 90


@pytest.fixture(scope="module")
def controllers(helm4_cli: HelmCli, kube: Kube, local_cluster: ClusterStatus,
                training_operator: TrainingOperator,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ar.Controllers]:
    assert local_cluster.kubeconfig is not None
    with ar.chart_installed(helm4_cli, kube, *LIMITS):
        folder = tmp_path_factory.mktemp("auto-restart-limits")
        with ar.controllers_running(kube, Path(local_cluster.kubeconfig), folder) as manager:
            yield manager


def as_controller(kube: Kube, controllers: ar.Controllers) -> Kube:
    return Kube((kube.kubectl[0], "--kubeconfig", str(controllers.kubeconfig)))


def test_the_controller_may_not_delete_a_pod_no_job_controls(
    controllers: ar.Controllers, kube: Kube, fresh_namespace: Callable[[str], str]
) -> None:
    namespace = fresh_namespace("ar-e2e-not-a-job")
    kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": namespace},
                 "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}})
    assert ar.SERVICE_ACCOUNT in as_controller(kube, controllers).run("auth", "whoami").stdout
    with pytest.raises(KubectlFailed) as refused:
        as_controller(kube, controllers).run("delete", "pod", "web", "--namespace", namespace, "--wait=false")
    assert (f"{ar.SERVICE_ACCOUNT} may delete only pods controlled by a job kind it handles "
            f"(PyTorchJob, MPIJob, TFJob, XGBoostJob, PaddleJob, or an MPIJob launcher), not {namespace}/web"
            in str(refused.value))
    assert kube.exists("pod", "web", namespace)


def test_past_the_job_share_a_restart_waits_with_an_event_saying_why(
    controllers: ar.Controllers, kube: Kube, fresh_namespace: Callable[[str], str],
    faults: Callable[[str], None],
) -> None:
    namespace = fresh_namespace("ar-e2e-limits")
    nodes = sorted(n["metadata"]["name"] for n in kube.cluster_items("nodes")
                   if n["metadata"].get("labels", {}).get(wire.NODE_HEALTH_LABEL) == wire.SCHEDULABLE)
    jobs = {"first": nodes[0], "second": nodes[1]}
    for job, node in jobs.items():
        kube.create(ar.pinned(ar.resumable_pytorchjob(job, namespace), node))
    before = {job: ar.uids(ar.wait_running(kube, job, namespace, 3)) for job in jobs}

    for node in jobs.values():
        faults(node)

    def replaced() -> set[str]:
        return {job for job in jobs if not ar.uids(ar.pods_of(kube, job, namespace)) & before[job]}
    assert len(poll(replaced, bool, "one job's pods to be brought down", TIMEOUT)) == 1
    events = poll(lambda: {job: ar.reasons(ar.job_events(kube, job, namespace)) for job in jobs},
                  lambda found: any("AutoRestartPaused" in r for r in found.values()),
                  "an AutoRestartPaused Event", TIMEOUT)
    held = next(job for job, found in events.items() if "AutoRestartPaused" in found)
    assert replaced() == set(jobs) - {held}, "the held job's pods are untouched"
    assert ar.uids(ar.pods_of(kube, held, namespace)) == before[held]
    note = next(e["message"] for e in ar.job_events(kube, held, namespace)
                if e["reason"] == "AutoRestartPaused")
    assert ("auto-restart paused: it would make 2 of 2 opted-in jobs restarted within 600s, above the limit "
            "of 1 (maxJobPercent 50)") in note
    assert ar.COUNT not in ar.job_annotations(kube, "pytorchjob", held, namespace)
    metrics = ar.wait_leader(kube, controllers.alive()).metrics()
    assert 'hyperpod_deps_auto_restart_restarts_paused_total{limit="jobs"}' in metrics
