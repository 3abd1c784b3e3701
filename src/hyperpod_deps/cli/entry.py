"""The hyperpod-deps program's entry: the node agent at once, every other command through click.

`hyperpod-deps health agent` runs in a pod on every node, where each module it loads is
resident memory on every node; click and the command tree are 3.6 MiB it never uses (decision
17). So that command line is recognised here, before click is imported, and parsed by the
agent's own parser (cli/health_agent.py); everything else goes to the command tree
(cli/main.py), whose `health agent` hands its arguments to the same parser.
"""
from __future__ import annotations

import sys

AGENT = ["health", "agent"]


def main() -> None:
    if sys.argv[1:3] == AGENT:
        from hyperpod_deps.cli.health_agent import main as agent

        sys.exit(agent(sys.argv[3:]))
    from hyperpod_deps.cli.main import main as commands

    commands()
