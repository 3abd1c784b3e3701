"""The health agent's log: the shared JSON lines (core/jsonlog.py) plus the detection record
HyperPod users search for.

The detection record is the wire contract's line, key for key and in that order (including the
odd `"details: "` key), so log queries written for HyperPod's agent find ours too.
"""
from __future__ import annotations

import json
from datetime import datetime

from hyperpod_deps.core import wire
from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.core.jsonlog import JsonLog, stamp

SEVERITY = {Action.REPLACE: "warn", Action.REBOOT: "warn", Action.WARNING: "warn", Action.EVENT: "info",
            Action.NONE: "info"}


def detection_record(fault: Fault, now: datetime) -> str:
    record = {
        "level": "info",
        "ts": stamp(now),
        "msg": f"NPD caught event: {fault.message}",
        "details: ": {"severity": SEVERITY[fault.action], "timestamp": fault.timestamp,
                      "reason": fault.reason, "message": fault.message},
        wire.DETECTION_EVENT_KEY: "HealthEvent",
    }
    return json.dumps(record, separators=(",", ":"))


class AgentLog(JsonLog):
    """The agent's JSON lines, with its detection records."""

    def detection(self, fault: Fault) -> None:
        self.write(detection_record(fault, self._clock()))
