"""The agent's sources, one thread each: kernel log readers and polled monitors.

Each turns what it reads into Faults (the rules decide) and hands them to the agent loop with
the read position they were found at, in order, through one queue. Nothing a source reads can
end it: undecodable lines are text with replacement characters, and a failing read is logged
and retried at the next turn.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from hyperpod_deps.core.health import Fault
from hyperpod_deps.health.classify import Matcher, Verdict, to_fault
from hyperpod_deps.health.cursors import Cursor
from hyperpod_deps.health.file_events import RECHECK_SECONDS, FileEvents
from hyperpod_deps.health.kernel_log import KernelLog
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.metrics import Metrics
from hyperpod_deps.health.rules import Match, RuleSet
from hyperpod_deps.health.trust import Trust, untrusted_note
from hyperpod_deps.health.watchers import KmsgReader, LogTailer

if TYPE_CHECKING:  # the journal reader and its decompressors load only where that source is on
    from hyperpod_deps.health.journal import JournalReader

Clock = Callable[[], datetime]
_Record = TypeVar("_Record")


@dataclass(frozen=True)
class Detected:
    """Faults found by a source (maybe none) and where it had read up to (kernel logs)."""

    source: str
    faults: tuple[Fault, ...]
    read_at: float  # time.monotonic() when the records were read
    cursor: Cursor | None = None
    backlog: bool = False  # more is waiting: read again without pausing


class Monitor(Protocol):
    def poll(self, now: datetime) -> list[Fault]: ...


UNTRUSTED_LOG_SECONDS = 60.0


class KernelClassifier:
    """Kernel log records to Faults, counting each evaluation.

    `trust` is the source's (health.trust): a match whose origin it does not trust is counted
    (`untrusted`) and logged, and makes no Fault, so it neither acts nor records an event. The
    log line is written once per rule and origin per UNTRUSTED_LOG_SECONDS (with how many were
    left out), so whoever writes forged lines cannot flood the agent's log either."""

    def __init__(self, rules: RuleSet, metrics: Metrics, log: AgentLog, trust: Trust = Trust.KERNEL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rules, self.metrics, self.log, self.trust = rules, metrics, log, trust
        self._monotonic = monotonic
        # (rule, origin) -> (when last logged, matches left out since)
        self._untrusted: dict[tuple[str, str], tuple[float, int]] = {}

    def faults(self, records: list[bytes], now: datetime) -> list[Fault]:
        """Raw records as read (a kmsg record, a log-file line), in order."""
        matcher = Matcher(self.rules, self.trust)  # one per read: no state shared across threads
        return self._faults([matcher.line(raw) for raw in records], now)

    def faults_from_records(self, records: list[KernelLog], now: datetime) -> list[Fault]:
        """Records a source parsed itself (the journal), whose origin it has set."""
        matcher = Matcher(self.rules, self.trust)
        return self._faults([matcher.record(record) for record in records], now)

    def _faults(self, verdicts: list[Verdict | None], now: datetime) -> list[Fault]:
        found = []
        for verdict in verdicts:
            match = verdict.match if verdict is not None else None
            if verdict is None or match is None:
                self.metrics.evaluations.labels("kmsg", "nomatch").inc()
            elif not verdict.trusted:
                self.metrics.evaluations.labels("kmsg", "untrusted").inc()
                self._log_untrusted(verdict, match)
            else:
                self.metrics.evaluations.labels("kmsg", "match").inc()
                found.append(to_fault(match, now))
        for fault in found:
            self.log.detection(fault)
            self.metrics.faults.labels(fault.type, fault.action.value).inc()
        return found


    def _log_untrusted(self, verdict: Verdict, match: Match) -> None:
        key = (match.rule_path, verdict.record.origin.value)
        now = self._monotonic()
        last, left_out = self._untrusted.get(key, (None, 0))
        if last is not None and now - last < UNTRUSTED_LOG_SECONDS:
            self._untrusted[key] = (last, left_out + 1)
            return
        self._untrusted[key] = (now, 0)
        self.log.warn("kernel log match not acted on: " + untrusted_note(verdict.record.origin),
                      rule=match.rule_path, origin=verdict.record.origin.value, trust=self.trust.value,
                      action=match.action.value, message=match.message, earlier_not_logged=left_out)


class SourceThread(threading.Thread):
    """Runs one source until `stop` is set; each turn's result goes to `inbox`.

    Between turns it sleeps `pause_seconds`, or, given `events`, until a followed file changes
    (at most RECHECK_SECONDS): no wake-ups while nothing is written. No pause: the turn blocks
    by itself (kmsg's select)."""

    def __init__(self, name: str, turn: Callable[[], Detected | None], inbox: queue.SimpleQueue[object],
                 stop: threading.Event, pause_seconds: float, log: AgentLog,
                 events: FileEvents | None = None) -> None:
        super().__init__(name=f"source-{name}", daemon=True)
        self.source, self.turn, self.inbox, self.stop, self.pause, self.log = (
            name, turn, inbox, stop, pause_seconds, log)
        self.events = events

    def run(self) -> None:
        try:
            self._run()
        finally:
            if self.events is not None:
                self.events.close()  # here, not by the agent: this thread may still be waiting on it

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                result = self.turn()
            except Exception as error:  # a source must outlive any one bad read
                self.log.error("source failed; retrying", source=self.source, error=repr(error))
                result = None
                self.stop.wait(max(self.pause, 1.0))
            if result is not None:
                self.inbox.put(result)
            if self.pause and not (isinstance(result, Detected) and result.backlog):
                self._idle()

    def _idle(self) -> None:
        if self.events is not None:
            # The thread is a daemon: a stop need not interrupt this wait, the process ends.
            self.events.wait(RECHECK_SECONDS)
        else:
            self.stop.wait(self.pause)


class _Followed(Protocol[_Record]):
    """A reader that follows a log and knows where it is (LogTailer, JournalReader)."""

    @property
    def cursor(self) -> Cursor | None: ...
    @property
    def backlog(self) -> bool: ...
    def read(self) -> list[_Record]: ...


def _followed_turn(name: str, reader: _Followed[_Record],
                   classify: Callable[[list[_Record], datetime], list[Fault]],
                   clock: Clock) -> Callable[[], Detected | None]:
    """A turn that reports new faults, or only a moved cursor, and nothing when nothing moved."""
    last: list[object] = [reader.cursor]

    def turn() -> Detected | None:
        records = reader.read()
        read_at = time.monotonic()
        if not records and reader.cursor == last[0]:
            return None
        last[0] = reader.cursor
        faults = classify(records, clock())
        return Detected(name, tuple(faults), read_at, reader.cursor, reader.backlog)
    return turn


def file_turn(tailer: LogTailer, classifier: KernelClassifier, clock: Clock) -> Callable[[], Detected | None]:
    return _followed_turn(str(tailer.path), tailer, classifier.faults, clock)


def journal_turn(reader: JournalReader, classifier: KernelClassifier,
                 clock: Clock) -> Callable[[], Detected | None]:
    """Journal entries arrive parsed, with the origin journald recorded for them."""
    return _followed_turn("journal", reader, classifier.faults_from_records, clock)


def kmsg_turn(reader: KmsgReader, classifier: KernelClassifier, clock: Clock, metrics: Metrics,
              wait_seconds: float = 0.5) -> Callable[[], Detected | None]:
    """Blocks in select() up to `wait_seconds`: a record wakes it at once, no polling."""
    overruns = [0]

    def turn() -> Detected | None:
        records = reader.read(wait_seconds)
        read_at = time.monotonic()
        if reader.overruns != overruns[0]:
            metrics.kmsg_overruns.inc(reader.overruns - overruns[0])
            overruns[0] = reader.overruns
        if not records:
            return None
        return Detected("kmsg", tuple(classifier.faults(records, clock())), read_at, reader.cursor)
    return turn


def monitor_turn(name: str, monitor: Monitor, metrics: Metrics, log: AgentLog,
                 clock: Clock) -> Callable[[], Detected | None]:
    def turn() -> Detected | None:
        faults = monitor.poll(clock())
        metrics.evaluations.labels(name, "match" if faults else "nomatch").inc()
        for fault in faults:
            log.detection(fault)
            metrics.faults.labels(fault.type, fault.action.value).inc()
        return Detected(name, tuple(faults), time.monotonic()) if faults else None
    return turn


def utc_now() -> datetime:
    return datetime.now(UTC)
