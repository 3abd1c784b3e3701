"""hyperpod-deps health agent: the health monitoring agent of one node (a DaemonSet pod, or a
local process against the local cluster)."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.core.backoff import Backoff
from hyperpod_deps.core.jsonlog import route_python_logging
from hyperpod_deps.core.settings import SettingsError
from hyperpod_deps.health import settings as agent_settings
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.rules import RuleError, RuleSet
from hyperpod_deps.health.runner import Agent
from hyperpod_deps.health.writer import FIRST_BACKOFF_SECONDS
from hyperpod_deps.kube.errors import KubeError
from hyperpod_deps.kube.lean_client import LeanKube


@click.command("agent")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The agent's settings (YAML, the chart's openAgent.config keys) [default: built-in].")
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Kubeconfig [default: $KUBECONFIG, ~/.kube/config, else the pod's service account].")
def agent_command(config_file: Path | None, kubeconfig: Path | None) -> None:
    """Watch this node's kernel log and accelerators; mark the node (labels, taint, conditions,
    events) when a rule finds a fault. The node is $NODE_NAME. Runs until SIGTERM."""
    log = AgentLog()
    route_python_logging(log)
    try:
        settings = agent_settings.load(config_file)
        rules = RuleSet.load(settings.extra_rule_files)  # before waiting for the API server
    except SettingsError as error:
        _fail(log, str(error), ExitCode.USAGE)
    except RuleError as error:
        _fail(log, f"bad rules: {error}", ExitCode.USAGE)
    # Only a flag and the agent's reentrant stop: a signal handler must take no lock the
    # interrupted code may hold.
    stop: list[bool] = []
    holder: list[Agent] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(True)
        for agent in holder:
            agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    kube = _connect(kubeconfig, settings.writer.max_backoff_seconds, stop, log)
    if kube is None:
        return
    holder.append(Agent(settings, kube, log, rules=rules))
    if stop:
        holder[0].stop()
    try:
        holder[0].run()
    finally:
        kube.close()


def _connect(kubeconfig: Path | None, max_backoff: float, stop: list[bool], log: AgentLog) -> LeanKube | None:
    """The API server may be down when the agent starts: wait for it (None if stopped first)."""
    backoff = Backoff(max_backoff, FIRST_BACKOFF_SECONDS)
    while not stop:
        try:
            return LeanKube.connect(kubeconfig)
        except KubeError as error:
            delay = backoff.failed(0.0)
            log.warn("API server not reachable; retrying", retry_in_seconds=round(delay, 2), error=str(error))
            deadline = time.monotonic() + delay
            while not stop and time.monotonic() < deadline:
                time.sleep(0.1)
    return None


def _fail(log: AgentLog, message: str, code: ExitCode) -> NoReturn:
    log.error(message)
    sys.exit(code)
