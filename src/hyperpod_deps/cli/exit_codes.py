"""Named exit codes of the hyperpod-deps command."""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECKS_FAILED = 1  # lint found problems
    USAGE = 2  # bad command line (click's own code)
    HELM_REFUSED = 3  # helm refused the chart or values: schema error or a chart `fail`
    TOOL_UNAVAILABLE = 4  # helm is not on PATH and could not be fetched
    CLUSTER_FAILED = 5  # the local cluster could not be started (see the message)
