"""hyperpod-deps health agent: the health monitoring agent of one node (a DaemonSet pod, or a
local process against the local cluster).

Parsed with the standard library's argparse, not click: cli/entry.py starts this command
before click is imported, to keep the agent's resident memory small (decision 17)."""
from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

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


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="hyperpod-deps health agent",
        description="Watch this node's kernel log and accelerators; mark the node (labels, taint, "
                    "conditions, events) when a rule finds a fault. The node is $NODE_NAME. Runs until "
                    "SIGTERM.")
    parse.add_argument("--config", type=Path, metavar="FILE",
                       help="The agent's settings (YAML, the chart's openAgent.config keys) "
                            "[default: built-in].")
    parse.add_argument("--kubeconfig", type=Path, metavar="FILE",
                       help="Kubeconfig [default: $KUBECONFIG, ~/.kube/config, else the pod's service "
                            "account].")
    return parse


def main(argv: Sequence[str]) -> int:
    """Run the agent with these arguments (those after `health agent`); its exit code."""
    parse = parser()
    arguments = parse.parse_args(list(argv))  # exits 2 with usage on a bad command line
    if arguments.config is not None and arguments.config.is_dir():
        parse.error(f"--config {arguments.config}: a directory, not a settings file")
    if arguments.kubeconfig is not None and not arguments.kubeconfig.is_file():
        parse.error(f"--kubeconfig {arguments.kubeconfig}: no such file")
    run(arguments.config, arguments.kubeconfig)
    return ExitCode.OK


def run(config_file: Path | None, kubeconfig: Path | None) -> None:
    """Until SIGTERM; a bad settings file or rule exits 2 with a JSON log line saying why."""
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
