"""The controller process: campaign for the Lease; while leader, watch and act.

    stop = threading.Event()
    run(lambda: Kube.connect(kubeconfig), settings, stop)     # returns once stop is set

Each leadership term starts from nothing (fresh lists, fresh index) and ends the moment the
Lease is lost: a follower does nothing, so two replicas never act at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from hyperpod_deps.autorestart.actions import NotLeader
from hyperpod_deps.autorestart.metrics import Heartbeat, Metrics, serve
from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.autorestart.term import Term
from hyperpod_deps.core.jsonlog import json_logger, log
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.leases import LeaderElector

LOGGER = "hyperpod_deps.autorestart"
LOOP_SECONDS = 0.5


@dataclass
class Runtime:
    """What a caller may pass in instead of the defaults (tests, the demo, benchmarks)."""

    identity: str = field(
        default_factory=lambda: os.environ.get("POD_NAME") or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    )
    namespace: str = field(default_factory=lambda: os.environ.get("POD_NAMESPACE") or "default")
    metrics: Metrics = field(default_factory=Metrics)
    wall: Callable[[], float] = time.time


def run(
    kube_factory: Callable[[], Kube],
    settings: ControllerSettings,
    stop: threading.Event,
    runtime: Runtime | None = None,
) -> None:
    runtime = runtime or Runtime()
    logger = json_logger(LOGGER, settings.log_level)
    election = settings.leader_election
    namespace = election.lease_namespace or runtime.namespace
    heartbeat = Heartbeat(stale_after_seconds=max(30.0, 3 * election.renew_deadline_seconds))
    server = serve(runtime.metrics, heartbeat, settings.metrics.bind_address, settings.metrics.port)
    elector = LeaderElector(
        kube_factory(),
        namespace,
        election.lease_name,
        runtime.identity,
        election.lease_duration_seconds,
        election.renew_deadline_seconds,
    )
    campaign = threading.Thread(
        target=_campaign,
        name="leader-election",
        daemon=True,
        args=(elector, election.retry_period_seconds, stop, runtime.metrics),
    )
    campaign.start()
    log(
        logger,
        logging.INFO,
        "started",
        identity=runtime.identity,
        lease=f"{namespace}/{election.lease_name}",
        platform=settings.platform,
        kinds=list(settings.handled_kinds()),
        metrics_port=settings.metrics.port,
    )
    try:
        while not stop.is_set():
            heartbeat.beat()
            if elector.is_leader():
                _lead(kube_factory, settings, stop, elector, heartbeat, runtime, logger)
            else:
                stop.wait(LOOP_SECONDS)
    finally:
        campaign.join(timeout=10)
        elector.release()
        server.close()
        log(logger, logging.INFO, "stopped", identity=runtime.identity)


def _campaign(elector: LeaderElector, retry_seconds: float, stop: threading.Event, metrics: Metrics) -> None:
    while not stop.is_set():
        elector.try_acquire_or_renew()
        metrics.leader.set(1 if elector.is_leader() else 0)
        stop.wait(retry_seconds)
    metrics.leader.set(0)


def _lead(
    kube_factory: Callable[[], Kube],
    settings: ControllerSettings,
    stop: threading.Event,
    elector: LeaderElector,
    heartbeat: Heartbeat,
    runtime: Runtime,
    logger: logging.Logger,
) -> None:
    log(logger, logging.INFO, "became leader", identity=runtime.identity)
    term = Term(
        kube_factory, settings, elector.is_leader, runtime.identity, runtime.metrics, logger, runtime.wall
    )
    try:
        term.start()
        while not stop.is_set() and elector.is_leader():
            heartbeat.beat()
            term.step(LOOP_SECONDS)
    except NotLeader:
        pass  # an action found the Lease gone: the term ends here, logged below
    finally:
        term.close()
    if not stop.is_set():
        log(logger, logging.WARNING, "lost the leader Lease; stopped acting", identity=runtime.identity)
