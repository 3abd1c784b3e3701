"""The two detectors as the benchmark runs them: node-problem-detector and our agent, each a
process tailing its own file, with its Prometheus endpoint on a loopback port; their CPU time
and memory from /proc."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import benchlib
import npd_config
import yaml

from hyperpod_deps.health.rules import RuleSet

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
AGENT_STARTED = "health agent started"

Sample = tuple[str, dict[str, str], float]  # name as exposed, labels, value
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_samples(text: str) -> list[Sample]:
    """The Prometheus text format, names exactly as written (a client library's parser renames
    `problem_counter` to `problem_counter_total`)."""
    samples = []
    for line in text.splitlines():
        found = _SAMPLE.fullmatch(line.strip())
        if found and not line.startswith("#"):
            name, labels, value = found.groups()
            samples.append((name, dict(_LABEL.findall(labels or "")), float(value)))
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Detector:
    name: str  # "npd" or "agent"
    process: subprocess.Popen[bytes]
    output: Path  # its stdout and stderr
    metrics_port: int

    def cpu_seconds(self) -> float:
        """User + system time of every thread so far (/proc/<pid>/stat fields 14 and 15)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory(self) -> benchlib.Memory:
        return benchlib.memory(self.process.pid)

    def scrape(self) -> list[Sample] | None:
        """Every sample the Prometheus endpoint shows now; None while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as answer:
                return parse_samples(answer.read().decode())
        except (urllib.error.URLError, OSError):
            return None

    def metric(self, name: str, **labels: str) -> float | None:
        """The sum of the samples `name` with these labels; None when there is none (yet)."""
        values = [value for sample, found, value in self.scrape() or []
                  if sample == name and all(found.get(k) == v for k, v in labels.items())]
        return sum(values) if values else None

    def log_has(self, text: str) -> bool:
        return text in self.output.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def alive(self) -> None:
        if self.process.poll() is not None:
            raise SystemExit(f"{self.name} exited ({self.process.returncode}); its output: {self.output}")


def _launch(name: str, args: list[str], work: Path, port: int, env: dict[str, str] | None = None) -> Detector:
    output = work / f"{name}.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, env=env)
    return Detector(name, process, output, port)


def start_npd(binary: Path, work: Path, log_file: Path, node: str, rules: RuleSet,
              server: str | None = None, kubeconfig: Path | None = None) -> Detector:
    config = npd_config.write_config(work, log_file, rules)
    port = free_port()
    return _launch("npd", npd_config.command(binary, config, port, node, server, kubeconfig), work, port)


def start_agent(work: Path, log_file: Path, node: str, kubeconfig: Path) -> Detector:
    """`hyperpod-deps health agent` on one log file: its other sources are off, as NPD watches
    only the file too."""
    port = free_port()
    settings = {
        "nodeName": node, "metricsPort": port, "stateDir": str(work / "agent-state"),
        "sources": {"journal": {"enabled": False}, "kmsg": {"enabled": False},
                    "logFiles": {"paths": [str(log_file)], "trustKernelTag": True},
                    "nvml": {"enabled": False}, "neuron": {"enabled": False}, "efa": {"enabled": False}},
    }
    config = work / "agent.yaml"
    config.write_text(yaml.safe_dump(settings))
    args = [benchlib.hyperpod_deps(), "health", "agent", "--config", str(config),
            "--kubeconfig", str(kubeconfig)]
    return _launch("agent", args, work, port)


def wait_until(ready: Callable[[], object], what: str, detector: Detector, timeout: float = 120,
               every: float = 0.05) -> float:
    """Poll `ready()` until true; the time it took. Fails if the detector exits first."""
    started = time.monotonic()
    while not ready():
        detector.alive()
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{detector.name}: no {what} after {timeout:.0f} s; "
                             f"its output: {detector.output}")
        time.sleep(every)
    return time.monotonic() - started
