"""Structured JSON log lines on stdout, and the detection record HyperPod users search for.

The detection record is the wire contract's line, key for key and in that order (including the
odd `"details: "` key), so log queries written for HyperPod's agent find ours too.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from hyperpod_deps.core import wire
from hyperpod_deps.core.health import Action, Fault

Clock = Callable[[], datetime]
SEVERITY = {Action.REPLACE: "warn", Action.REBOOT: "warn", Action.WARNING: "warn", Action.EVENT: "info",
            Action.NONE: "info"}


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def detection_record(fault: Fault, now: datetime) -> str:
    record = {
        "level": "info",
        "ts": _stamp(now),
        "msg": f"NPD caught event: {fault.message}",
        "details: ": {"severity": SEVERITY[fault.action], "timestamp": fault.timestamp,
                      "reason": fault.reason, "message": fault.message},
        wire.DETECTION_EVENT_KEY: "HealthEvent",
    }
    return json.dumps(record, separators=(",", ":"))


class JsonLog:
    """One JSON object per line; safe to call from every thread of the agent."""

    def __init__(self, stream: TextIO | None = None, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self._stream = stream or sys.stdout
        self._clock = clock
        self._lock = threading.Lock()

    def detection(self, fault: Fault) -> None:
        self._write(detection_record(fault, self._clock()))

    def info(self, msg: str, **fields: Any) -> None:
        self.line("info", msg, **fields)

    def warn(self, msg: str, **fields: Any) -> None:
        self.line("warn", msg, **fields)

    def error(self, msg: str, **fields: Any) -> None:
        self.line("error", msg, **fields)

    def line(self, level: str, msg: str, **fields: Any) -> None:
        record = {"level": level, "ts": _stamp(self._clock()), "msg": msg, **fields}
        self._write(json.dumps(record, separators=(",", ":"), default=str))

    def _write(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn"}


class JsonLogHandler(logging.Handler):
    """Python logging (urllib3's retries, the monitors' notes) as the agent's JSON lines, so
    everything it prints parses the same way."""

    def __init__(self, log: JsonLog) -> None:
        super().__init__()
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = _LEVELS.get(record.levelno, "error")
            self.log.line(level, record.getMessage(), logger=record.name)
        except Exception:  # a log line must never take the agent down
            self.handleError(record)


def route_python_logging(log: JsonLog, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.handlers[:] = [JsonLogHandler(log)]
    root.setLevel(level)
