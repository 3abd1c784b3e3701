"""The agent: sources in threads feed one loop that decides and writes; a thread watches the node.

Threads, not asyncio: every blocking call here (the Kubernetes client, NVML, file reads) is
synchronous, and a handful of threads cost nothing next to that. Only the loop thread decides
and writes, so the policy and the writer need no locks; sources and the node watch talk to it
through one queue. The loop never ends on an error: the API server may be away for minutes,
and faults wait (and are retried with backoff) until a write carries them.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

from hyperpod_deps.core import wire
from hyperpod_deps.health import file_events, nodewatch
from hyperpod_deps.health.cursors import Cursor, CursorStore, boot_id
from hyperpod_deps.health.logs import AgentLog
from hyperpod_deps.health.metrics import Metrics
from hyperpod_deps.health.monitors import monitors
from hyperpod_deps.health.policy import PolicyConfig
from hyperpod_deps.health.rules import RuleSet
from hyperpod_deps.health.settings import Settings
from hyperpod_deps.health.sources import (
    Clock,
    Detected,
    KernelClassifier,
    SourceThread,
    file_turn,
    journal_turn,
    kmsg_turn,
    monitor_turn,
    utc_now,
)
from hyperpod_deps.health.trust import Trust, log_file_trust
from hyperpod_deps.health.watchers import KmsgFile, KmsgReader, LogTailer
from hyperpod_deps.health.writer import NodeWriter
from hyperpod_deps.kube.nodes import NodeAgentApi

# Everything the loop waits for either wakes it (the inbox: sources, the node watch, a stop) or is
# timed by the writer (wait_seconds); this only bounds a wait whose reason was missed. A second
# here was a wake-up a second on every idle node.
LOOP_WAKE_SECONDS = 10.0
SHUTDOWN_FLUSH_SECONDS = 5.0
_STOP = object()


class Agent:
    def __init__(self, settings: Settings, kube: NodeAgentApi, log: AgentLog | None = None,
                 clock: Clock = utc_now, boot_id_file: Path = Path("/proc/sys/kernel/random/boot_id"),
                 rules: RuleSet | None = None) -> None:
        self.settings, self.kube, self.clock = settings, kube, clock
        self.log = log or AgentLog()
        self.metrics = Metrics()
        # RuleError: the agent cannot start.
        self.rules = rules if rules is not None else RuleSet.load(settings.extra_rule_files)
        self.inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.boot_id_file = boot_id_file
        self.cursors = CursorStore(settings.state_dir, warn=lambda text: self.log.warn(text))
        self._unsaved: dict[str, Cursor] = {}
        self._pollers_started = False
        self._closers: list[Callable[[], None]] = []
        config = PolicyConfig(settings.platform, settings.dedupe_window_seconds,
                              settings.recovery_delay_seconds, settings.writer.debounce_seconds,
                              self.rules.escalation)
        self.writer = NodeWriter(kube, settings.node_name, config, settings.writer.reassert_interval_seconds,
                                 settings.writer.max_backoff_seconds, self.metrics, self.log, clock)

    def stop(self) -> None:
        """From a signal handler or another thread: finish the current turn, flush, return.

        Safe in a signal handler: SimpleQueue.put is reentrant, where Queue.put would deadlock
        if the signal came while the loop held the queue's lock inside get()."""
        self.stopping.set()
        self.inbox.put(_STOP)

    def run(self) -> None:
        if self.settings.metrics_port:
            server = self.metrics.serve(self.settings.metrics_port)
            self._closers.append(server.close)
        self._start_kernel_sources()
        nodewatch.node_watch(self.kube, self.settings.node_name, self.inbox, self.stopping,
                             self.settings.writer.max_backoff_seconds).start("node-watch")
        self.log.info("health agent started", node=self.settings.node_name, platform=self.settings.platform,
                      rules=len(self.rules))
        try:
            while not self.stopping.is_set():
                self._turn(min(self.writer.wait_seconds(), LOOP_WAKE_SECONDS))
            self._flush()
        finally:
            for close in self._closers:
                close()
            self.log.info("health agent stopped", node=self.settings.node_name,
                          unwritten_faults=len(self.writer.pending.faults))

    def _turn(self, timeout: float) -> None:
        items: list[object] = []
        try:
            items.append(self.inbox.get(timeout=timeout))
            while True:
                items.append(self.inbox.get_nowait())
        except queue.Empty:
            pass
        for item in items:
            if isinstance(item, Detected):
                self.writer.add(item.faults, item.read_at)
                if item.cursor is not None:
                    self._unsaved[item.source] = item.cursor
            elif isinstance(item, nodewatch.NodeSeen):
                self.writer.observe(item.node)
        self.writer.step()
        self._start_pollers()
        if self.writer.idle:
            self._save_cursors()

    def _flush(self) -> None:
        """On the way out: one last try to write what is pending, then keep the read positions."""
        deadline = self.writer.monotonic() + SHUTDOWN_FLUSH_SECONDS
        self._turn(0)
        while not self.writer.idle and self.writer.monotonic() < deadline:
            self._turn(min(self.writer.wait_seconds(), 0.2))
        if self.writer.events:
            self.writer.step()

    def _save_cursors(self) -> None:
        for source, cursor in self._unsaved.items():
            self.cursors.save(source, cursor)
        self._unsaved.clear()

    def _start_kernel_sources(self) -> None:
        """Each source trusts what it can prove: the journal and kmsg their kernel records only,
        log files what the admin vouched for (trustKernelTag), else nothing."""
        sources = self.settings.sources
        kernel = KernelClassifier(self.rules, self.metrics, self.log, Trust.KERNEL)
        if sources.journal.enabled:
            self._start_journal(kernel)
        if sources.kmsg.enabled:
            try:
                device = KmsgFile(sources.kmsg.path)
            except OSError as error:
                self.log.error("kernel log /dev/kmsg unreadable; that source is off (needs CAP_SYSLOG and "
                               "the device; see docs/health-agent.md)", path=str(sources.kmsg.path),
                               error=str(error))
            else:
                self._closers.append(device.close)
                reader = KmsgReader(device, boot_id(self.boot_id_file), self.cursors.load_kmsg("kmsg"))
                self._thread("kmsg", kmsg_turn(reader, kernel, self.clock, self.metrics), 0)
        files = KernelClassifier(self.rules, self.metrics, self.log,
                                 log_file_trust(sources.log_files.trust_kernel_tag))
        for path in sources.log_files.paths:
            tailer = LogTailer(path, self.cursors.load_file(str(path)))
            self._closers.append(tailer.close)
            events = self._file_events(str(path), [(path.parent, [path.name])],
                                       sources.log_files.poll_interval_seconds)
            self._thread(str(path), file_turn(tailer, files, self.clock),
                         sources.log_files.poll_interval_seconds, events)

    def _start_journal(self, classifier: KernelClassifier) -> None:
        # Imported here: the reader and its ZSTD and LZ4 decoders cost about 0.5 MiB of resident
        # memory, which a node whose journal source is off need not pay.
        from hyperpod_deps.health.journal import JournalReader

        journal = self.settings.sources.journal
        if not journal.path.is_dir():
            self.log.warn("no journal folder; the journal source is off (a host without a persistent "
                          "journal: set sources.journal.path, or use kmsg; see docs/health-agent.md)",
                          path=str(journal.path))
            return
        reader = JournalReader(journal.path, self.cursors.load_journal("journal"),
                               warn=lambda text: self.log.warn(text, source="journal"))
        self._closers.append(reader.close)
        # The journal folder and its machine-id folders: journald writes only journal files there.
        try:
            folders = [journal.path, *(child for child in journal.path.iterdir() if child.is_dir())]
        except OSError:
            folders = [journal.path]
        events = self._file_events("journal", [(folder, None) for folder in folders],
                                   journal.poll_interval_seconds)
        self._thread("journal", journal_turn(reader, classifier, self.clock), journal.poll_interval_seconds,
                     events)

    def _file_events(self, source: str, folders: list[tuple[Path, list[str] | None]],
                     poll_seconds: float) -> file_events.FileEvents | None:
        events = file_events.watch(folders)
        if events is None:
            self.log.warn("no inotify for this source's folder; polling it instead", source=source,
                          poll_interval_seconds=poll_seconds)
        return events

    def _start_pollers(self) -> None:
        """Polled monitors compare with what the instance type should have: they start once the
        node (and its instance-type label) has been read."""
        if self._pollers_started or self.writer.node is None:
            return
        self._pollers_started = True
        instance_type = ((self.writer.node.get("metadata") or {}).get("labels") or {}).get(
            wire.INSTANCE_TYPE_LABEL)
        for name, monitor, interval in monitors(self.settings, self.rules, instance_type):
            self._thread(name, monitor_turn(name, monitor, self.metrics, self.log, self.clock), interval)

    def _thread(self, name: str, turn: Callable[[], Detected | None], pause: float,
                events: file_events.FileEvents | None = None) -> None:
        SourceThread(name, turn, self.inbox, self.stopping, pause, self.log, events).start()
