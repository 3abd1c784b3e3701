"""The agent's settings: its config file, which the chart renders from
`health-monitoring-agent.openAgent.config` key for key (camelCase, unknown keys refused)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from hyperpod_deps.core.settings import EachOnce, PortOrOff, SettingsError, SettingsModel, load_model

DEFAULT_STATE_DIR = Path("/var/lib/hyperpod-deps/health-agent")
DEFAULT_METRICS_PORT = 9808


class KmsgSource(SettingsModel, frozen=True):
    enabled: bool = True
    path: Path = Path("/dev/kmsg")


class JournalSource(SettingsModel, frozen=True):
    """The host's systemd journal files (read directly, no journalctl): journald records which
    lines came from the kernel, so only those may drive an action, and reading them needs only
    read access to the files, no privilege."""

    enabled: bool = True
    # Persistent journals live here; a host without one (volatile /run/log/journal only) needs
    # that path mounted and set, or the kmsg source.
    path: Path = Path("/var/log/journal")
    # Where inotify cannot watch the folder (health/file_events.py): how often it is read, the
    # worst case added to detection latency. With inotify a write wakes the reader at once.
    poll_interval_seconds: Annotated[float, Meta(gt=0, le=10)] = 0.25


class LogFilesSource(SettingsModel, frozen=True):
    """Text log files with kernel lines (kern.log, messages), followed across rotation."""

    paths: EachOnce[Path] = ()
    # A text line cannot prove the kernel wrote it (`logger -t kernel` forges the tag), so by
    # default a match in these files is only logged. true: lines tagged `kernel` act, for sites
    # whose syslog daemon writes only the kernel's messages to these files.
    trust_kernel_tag: bool = False
    # Where inotify cannot watch the file's folder (health/file_events.py): how often it is read,
    # the worst case added to detection latency. With inotify an append wakes the reader at once.
    poll_interval_seconds: Annotated[float, Meta(gt=0, le=10)] = 0.1


class PolledSource(SettingsModel, frozen=True):
    enabled: bool = True
    interval_seconds: Annotated[float, Meta(gt=0, le=3600)] = 30


class Sources(SettingsModel, frozen=True):
    journal: JournalSource = JournalSource()
    kmsg: KmsgSource = KmsgSource()
    log_files: LogFilesSource = LogFilesSource()
    nvml: PolledSource = PolledSource()
    neuron: PolledSource = PolledSource()
    efa: PolledSource = PolledSource()


class WriterSettings(SettingsModel, frozen=True):
    # Warnings and drift repairs wait this long to be batched; quarantines never wait.
    debounce_seconds: Annotated[float, Meta(ge=0, le=300)] = 2
    # The node is read and the agent's marks re-asserted this often (repairs drift).
    reassert_interval_seconds: Annotated[float, Meta(ge=1, le=3600)] = 60
    # Retries of a failed write back off up to this long.
    max_backoff_seconds: Annotated[float, Meta(ge=0.1, le=600)] = 30


class Settings(SettingsModel, frozen=True):
    node_name: str = ""  # from $NODE_NAME when empty (the chart sets it from spec.nodeName)
    platform: Literal["hyperpod", "generic"] = "hyperpod"
    sources: Sources = Sources()
    writer: WriterSettings = WriterSettings()
    # The same fault (type, reason, rule, message) gives one event per window.
    dedupe_window_seconds: Annotated[float, Meta(ge=0, le=86400)] = 300
    # After a reboot, how long no fault may recur before recovery.
    recovery_delay_seconds: Annotated[float, Meta(ge=0, le=86400)] = 60
    metrics_port: PortOrOff = DEFAULT_METRICS_PORT  # 0: no metrics endpoint
    extra_rule_files: tuple[Path, ...] = ()
    state_dir: Path = DEFAULT_STATE_DIR
    # Where the host's /dev and /sys/class/infiniband are mounted (Neuron device count, EFA counters).
    host_root: Path = Path("/")


def load(path: Path | None, environ: dict[str, str] | None = None) -> Settings:
    """The settings in `path` (defaults without one), the node name from NODE_NAME if not set."""
    environ = dict(os.environ) if environ is None else environ
    settings = load_model(Settings, path, "the agent's settings")
    if not settings.node_name:
        settings = msgspec.structs.replace(settings, node_name=environ.get("NODE_NAME", ""))
    if not settings.node_name:
        source = str(path) if path else "the default settings"
        raise SettingsError(f"{source}: no node name: set NODE_NAME (the chart sets it from spec.nodeName)")
    return settings
