"""The controller's settings: the chart's `controller` values, as the ConfigMap hands them over.

Field for field the chart's values (camelCase), extra keys refused: a typo in the values fails
at start-up with the file and the key named, instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from hyperpod_deps.autorestart.faults import Trigger
from hyperpod_deps.autorestart.guard import GuardSettings
from hyperpod_deps.autorestart.policy import PolicySettings
from hyperpod_deps.core.settings import EachOnce, Port, SettingsModel, load_model

KindName = Literal["PyTorchJob", "MPIJob", "TFJob", "XGBoostJob", "PaddleJob"]
ALL_KINDS: tuple[KindName, ...] = ("PyTorchJob", "MPIJob", "TFJob", "XGBoostJob", "PaddleJob")
Seconds = Annotated[float, Meta(gt=0)]
Percent = Annotated[int, Meta(ge=1, le=100)]


class Triggers(SettingsModel, frozen=True):
    node_unschedulable: bool = True
    node_not_ready: bool = True
    # A node that is NotReady this long (seconds) counts; shorter blips do not restart jobs.
    node_not_ready_grace_seconds: Annotated[float, Meta(ge=0)] = 60.0
    node_deleted: bool = True
    # Extra: a container ended by one of these signals (e.g. 7, SIGBUS) restarts its job.
    pod_signals: Annotated[EachOnce[Annotated[int, Meta(ge=1, le=31)]], Meta(max_length=16)] = ()

    def enabled(self) -> frozenset[Trigger]:
        switches = {
            Trigger.UNSCHEDULABLE: self.node_unschedulable,
            Trigger.NOT_READY: self.node_not_ready,
            Trigger.NODE_DELETED: self.node_deleted,
            Trigger.POD_SIGNAL: bool(self.pod_signals),
        }
        return frozenset(t for t, on in switches.items() if on)


class LeaderElection(SettingsModel, frozen=True):
    lease_name: Annotated[str, Meta(min_length=1, max_length=253)] = "job-auto-restart"
    # Empty: the namespace the controller runs in ($POD_NAMESPACE).
    lease_namespace: str = ""
    lease_duration_seconds: Seconds = 15.0
    renew_deadline_seconds: Seconds = 10.0
    retry_period_seconds: Seconds = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            raise ValueError(
                "need retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds, so a "
                "leader stops acting before a standby may take over"
            )


class Metrics(SettingsModel, frozen=True):
    port: Port = 8080
    # 127.0.0.1 for local runs; in a pod, every interface so Prometheus and the kubelet reach it.
    bind_address: str = "0.0.0.0"


class BlastRadius(SettingsModel, frozen=True):
    """At most these shares of the opted-in jobs and of the nodes within the window (guard.py)."""

    max_job_percent: Percent = 50
    max_node_percent: Percent = 20
    window_seconds: Seconds = 600.0
    min_jobs: Annotated[int, Meta(ge=0)] = 1
    min_nodes: Annotated[int, Meta(ge=0)] = 1

    def guard(self) -> GuardSettings:
        return GuardSettings(self.max_job_percent, self.max_node_percent, self.window_seconds,
                             self.min_jobs, self.min_nodes)


class ControllerSettings(SettingsModel, frozen=True):
    platform: Literal["hyperpod", "generic"] = "hyperpod"
    kinds: Annotated[EachOnce[KindName], Meta(min_length=1)] = ALL_KINDS
    handle_pytorch_jobs_on_hyperpod: bool = msgspec.field(default=False, name="handlePyTorchJobsOnHyperPod")
    triggers: Triggers = Triggers()
    leader_election: LeaderElection = LeaderElection()
    blast_radius: BlastRadius = BlastRadius()
    metrics: Metrics = Metrics()
    # Every job is looked at again this often, so nothing depends on a single watch event.
    resync_seconds: Seconds = 300.0
    watch_timeout_seconds: Annotated[int, Meta(ge=10, le=3600)] = 300
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def policy(self) -> PolicySettings:
        return PolicySettings(
            platform=self.platform,
            handle_pytorch_on_hyperpod=self.handle_pytorch_jobs_on_hyperpod,
            triggers=self.triggers.enabled(),
            not_ready_grace_seconds=self.triggers.node_not_ready_grace_seconds,
        )

    def handled_kinds(self) -> tuple[str, ...]:
        """The kinds to watch: on HyperPod, PyTorchJobs stay with the managed auto-resume."""
        policy = self.policy()
        return tuple(
            k
            for k in self.kinds
            if not (
                policy.platform == "hyperpod" and k == "PyTorchJob" and not policy.handle_pytorch_on_hyperpod
            )
        )


def load(path: Path) -> ControllerSettings:
    return load_model(ControllerSettings, path, "the controller's settings")
