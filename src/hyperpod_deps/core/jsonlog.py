"""The one log format of every component: one JSON object a line, `level`, `ts` (UTC, to the
millisecond), `msg`, then the fields a person greps for (node, job, fault, logger).

Two ways in, one line out: a `JsonLog` written to directly (the health agent), and Python
logging through `JsonLogHandler` (the job controller's logger, and the libraries' own loggers,
such as urllib3's retries), so everything a component prints parses the same way.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

Clock = Callable[[], datetime]
_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn"}


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def json_line(level: str, msg: str, now: datetime, **fields: Any) -> str:
    return json.dumps({"level": level, "ts": stamp(now), "msg": msg, **fields}, separators=(",", ":"),
                      default=str)


class JsonLog:
    """One JSON object per line; safe to call from every thread."""

    def __init__(self, stream: TextIO | None = None, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self._stream = stream or sys.stdout
        self._clock = clock
        self._lock = threading.Lock()

    def info(self, msg: str, **fields: Any) -> None:
        self.line("info", msg, **fields)

    def warn(self, msg: str, **fields: Any) -> None:
        self.line("warn", msg, **fields)

    def error(self, msg: str, **fields: Any) -> None:
        self.line("error", msg, **fields)

    def line(self, level: str, msg: str, **fields: Any) -> None:
        self.write(json_line(level, msg, self._clock(), **fields))

    def write(self, line: str) -> None:
        """A line already formatted (a record whose keys are fixed by a contract)."""
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class JsonLogHandler(logging.Handler):
    """Python logging records as JsonLog lines: `logger` names the logger, fields given with
    `log(...)` follow, and an exception's traceback is `error`."""

    def __init__(self, log: JsonLog) -> None:
        super().__init__()
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name, **(getattr(record, "fields", None) or {})}
            if record.exc_info:
                fields["error"] = logging.Formatter().formatException(record.exc_info)
            self.log.line(_LEVELS.get(record.levelno, "error"), record.getMessage(), **fields)
        except Exception:  # a log line must never take the component down
            self.handleError(record)


def log(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """A record with fields of its own, for JsonLogHandler."""
    logger.log(level, msg, extra={"fields": fields})


def route_python_logging(log: JsonLog, level: int = logging.INFO) -> None:
    """Every logger of the process (the root's handlers) into `log`."""
    root = logging.getLogger()
    root.handlers[:] = [JsonLogHandler(log)]
    root.setLevel(level)


def json_logger(name: str, level: str, stream: TextIO | None = None) -> logging.Logger:
    """The named logger writing JsonLog lines to `stream` (stderr), leaving the root alone."""
    logger = logging.getLogger(name)
    logger.setLevel(level.upper())
    if not any(isinstance(handler, JsonLogHandler) for handler in logger.handlers):
        logger.addHandler(JsonLogHandler(JsonLog(stream or sys.stderr)))
    logger.propagate = False
    return logger
