"""The agent's output: HyperPod's detection record exactly, and every other line JSON too."""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.core.jsonlog import JsonLog, route_python_logging
from hyperpod_deps.health.logs import detection_record

NOW = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
XID79 = Fault("2025-03-04T05:06:07Z", "NvidiaGPUUnhealthy", "XidHardwareFailure",
              "NVRM: Xid (PCI:0000:b9:00): 79, pid=1, GPU has fallen off the bus.", Action.REPLACE,
              "kmsg/xid-79", "kmsg")


def test_the_detection_record_is_the_wire_contracts_line() -> None:
    assert detection_record(XID79, NOW) == (
        '{"level":"info","ts":"2025-03-04T05:06:07.890Z",'
        '"msg":"NPD caught event: NVRM: Xid (PCI:0000:b9:00): 79, pid=1, GPU has fallen off the bus.",'
        '"details: ":{"severity":"warn","timestamp":"2025-03-04T05:06:07Z","reason":"XidHardwareFailure",'
        '"message":"NVRM: Xid (PCI:0000:b9:00): 79, pid=1, GPU has fallen off the bus."},'
        '"HealthMonitoringAgentDetectionEvent":"HealthEvent"}')


def test_an_event_only_fault_is_reported_at_info() -> None:
    event = Fault("t", "NvidiaGPUApplicationError", "XidUserAppError", "m", Action.EVENT, "kmsg/xid-13",
                  "kmsg")
    assert json.loads(detection_record(event, NOW))["details: "]["severity"] == "info"


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_python_logging_comes_out_as_json_lines(root_logging: None) -> None:
    stream = io.StringIO()
    route_python_logging(JsonLog(stream, clock=lambda: NOW))
    logging.getLogger("urllib3.connectionpool").warning("Retrying after %s", "connection broken")
    line = json.loads(stream.getvalue())
    assert line == {"level": "warn", "ts": "2025-03-04T05:06:07.890Z",
                    "msg": "Retrying after connection broken", "logger": "urllib3.connectionpool"}
