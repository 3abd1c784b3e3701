"""The controller's settings: the chart's `controller` values, as the ConfigMap hands them over.

Field for field the chart's values (camelCase), extra keys refused: a typo in the values fails
at start-up with the file and the key named, instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from hyperpod_deps.autorestart.faults import Trigger
from hyperpod_deps.autorestart.guard import GuardSettings
from hyperpod_deps.autorestart.policy import PolicySettings
from hyperpod_deps.core.settings import EachOnce, Port, SettingsModel, load_model

KindName = Literal["PyTorchJob", "MPIJob", "TFJob", "XGBoostJob", "PaddleJob"]
ALL_KINDS: tuple[KindName, ...] = ("PyTorchJob", "MPIJob", "TFJob", "XGBoostJob", "PaddleJob")


class Triggers(SettingsModel):
    node_unschedulable: bool = True
    node_not_ready: bool = True
    # A node that is NotReady this long (seconds) counts; shorter blips do not restart jobs.
    node_not_ready_grace_seconds: float = Field(default=60.0, ge=0)
    node_deleted: bool = True
    # Extra: a container ended by one of these signals (e.g. 7, SIGBUS) restarts its job.
    pod_signals: EachOnce[Annotated[int, Field(ge=1, le=31)]] = Field(default=(), max_length=16)

    def enabled(self) -> frozenset[Trigger]:
        switches = {
            Trigger.UNSCHEDULABLE: self.node_unschedulable,
            Trigger.NOT_READY: self.node_not_ready,
            Trigger.NODE_DELETED: self.node_deleted,
            Trigger.POD_SIGNAL: bool(self.pod_signals),
        }
        return frozenset(t for t, on in switches.items() if on)


class LeaderElection(SettingsModel):
    lease_name: str = Field(default="job-auto-restart", min_length=1, max_length=253)
    # Empty: the namespace the controller runs in ($POD_NAMESPACE).
    lease_namespace: str = ""
    lease_duration_seconds: float = Field(default=15.0, gt=0)
    renew_deadline_seconds: float = Field(default=10.0, gt=0)
    retry_period_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            raise ValueError(
                "need retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds, so a "
                "leader stops acting before a standby may take over"
            )
        return self


class Metrics(SettingsModel):
    port: Port = 8080
    # 127.0.0.1 for local runs; in a pod, every interface so Prometheus and the kubelet reach it.
    bind_address: str = "0.0.0.0"


class BlastRadius(SettingsModel):
    """At most these shares of the opted-in jobs and of the nodes within the window (guard.py)."""

    max_job_percent: int = Field(default=50, ge=1, le=100)
    max_node_percent: int = Field(default=20, ge=1, le=100)
    window_seconds: float = Field(default=600.0, gt=0)
    min_jobs: int = Field(default=1, ge=0)
    min_nodes: int = Field(default=1, ge=0)

    def guard(self) -> GuardSettings:
        return GuardSettings(self.max_job_percent, self.max_node_percent, self.window_seconds,
                             self.min_jobs, self.min_nodes)


class ControllerSettings(SettingsModel):
    platform: Literal["hyperpod", "generic"] = "hyperpod"
    kinds: EachOnce[KindName] = Field(default=ALL_KINDS, min_length=1)
    handle_pytorch_jobs_on_hyperpod: bool = Field(default=False, alias="handlePyTorchJobsOnHyperPod")
    triggers: Triggers = Triggers()
    leader_election: LeaderElection = LeaderElection()
    blast_radius: BlastRadius = BlastRadius()
    metrics: Metrics = Metrics()
    # Every job is looked at again this often, so nothing depends on a single watch event.
    resync_seconds: float = Field(default=300.0, gt=0)
    watch_timeout_seconds: int = Field(default=300, ge=10, le=3600)
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
