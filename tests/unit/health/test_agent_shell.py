"""The agent's loop against the in-memory API: its node watch feeds the writer, and a stop
writes what is pending before the agent returns."""
from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import cast

from hyperpod_deps.core import wire
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.settings import convert
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.runner import Agent
from hyperpod_deps.health.settings import Settings
from hyperpod_deps.health.sources import Detected
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.nodes import NODE
from tests.support.fake_api import FakeApi
from tests.unit.health.test_writer_shell import NAME, XID79, node

OFF = {"enabled": False}


def agent(api: FakeApi, tmp_path: Path) -> Agent:
    settings = convert(Settings, {
        "nodeName": NAME, "metricsPort": 0, "stateDir": str(tmp_path / "state"),
        "sources": {"journal": OFF, "kmsg": OFF, "nvml": OFF, "neuron": OFF, "efa": OFF}})
    boot = tmp_path / "boot_id"
    boot.write_text("boot-1\n")
    return Agent(settings, cast(Kube, api), AgentLog(io.StringIO()), boot_id_file=boot)


def test_a_stop_writes_the_pending_fault_before_the_agent_returns(tmp_path: Path) -> None:
    api = FakeApi(hold=True)
    api.put(node())
    health_agent = agent(api, tmp_path)
    health_agent.inbox.put(Detected("kmsg", (XID79,), 0.0))
    health_agent.stop()  # before the loop turns once: only the flush on the way out can write it
    try:
        health_agent.run()
    finally:
        api.close_watches()
    stored = api.get(NODE, NAME)
    assert stored is not None
    assert stored["metadata"]["labels"][wire.NODE_HEALTH_LABEL] == wire.UNSCHEDULABLE_PENDING_REPLACEMENT
    assert health_agent.writer.idle


def test_the_node_watch_keeps_the_writers_copy_fresh(tmp_path: Path) -> None:
    api = FakeApi(hold=True)
    api.put(node())
    health_agent = agent(api, tmp_path)
    observe, seen = health_agent.writer.observe, threading.Event()

    def noting(copy: Manifest) -> None:
        observe(copy)
        if copy["metadata"]["labels"].get("team") == "ml":
            seen.set()

    health_agent.writer.observe = noting  # type: ignore[method-assign, assignment]
    runner = threading.Thread(target=health_agent.run, daemon=True)
    runner.start()
    try:
        api.put(node(team="ml"))  # a person's change, made after the agent listed the node
        assert seen.wait(timeout=30)
    finally:
        health_agent.stop()
        api.close_watches()
        runner.join(timeout=30)
    assert not runner.is_alive()
