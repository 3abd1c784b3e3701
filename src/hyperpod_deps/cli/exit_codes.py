"""Named exit codes of the hyperpod-deps command. No click here: the node agent's entry uses them
(cli/entry.py)."""
from __future__ import annotations

import sys
from enum import IntEnum
from typing import NoReturn


class ExitCode(IntEnum):
    OK = 0
    # lint found problems; preflight found conflicts or unmet prerequisites; status: not ready
    CHECKS_FAILED = 1
    USAGE = 2  # bad command line (click's own code)
    # helm refused the chart or values (schema or a chart `fail`), or helm install/upgrade failed
    HELM_REFUSED = 3
    TOOL_UNAVAILABLE = 4  # a tool is missing: helm could not be fetched, or Go for the control plane
    CLUSTER_FAILED = 5  # the local cluster could not be started, or a cluster could not be reached or read


def fail(message: str, code: int) -> NoReturn:
    """Print `error: message` on stderr and exit with `code`."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)
