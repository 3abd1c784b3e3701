"""Starting, probing and stopping the control-plane processes.

Each process is the leader of its own process group (so `down` reaches anything it forked) and
is recorded in a pid file with its kernel start time, so a recycled pid is never signalled.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hyperpod_deps.localcluster.layout import Layout

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class ComponentFailed(RuntimeError):
    """A process exited or never became healthy; the message carries its log's tail."""


class PortTaken(RuntimeError):
    """A port asked for is already in use on the loopback address."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_free(ports: dict[str, int]) -> None:
    taken = {name: port for name, port in ports.items() if not port_free(port)}
    if taken:
        listing = ", ".join(f"{name} {port}" for name, port in taken.items())
        raise PortTaken(f"port already in use on 127.0.0.1: {listing}. Stop what listens there "
                        "(ss -ltnp shows it) or leave the port out to have a free one chosen.")


def start(component: str, argv: Sequence[str], layout: Layout, env: Mapping[str, str] | None = None,
          pass_fds: Sequence[int] = ()) -> int:
    """`env` adds to (or overrides) the environment; `pass_fds` stay open in the process."""
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.run.mkdir(parents=True, exist_ok=True)
    with layout.log_file(component).open("ab") as log:
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=layout.root, start_new_session=True,
                                   env={**control_plane_env(), **(env or {})}, pass_fds=tuple(pass_fds))
    layout.pid_file(component).write_text(f"{process.pid} {_start_time(process.pid)}\n")
    return process.pid


# The machine's proxy is for reaching the internet. A control plane on loopback that
# inherited it would send its calls to webhooks and aggregated APIs (in-cluster
# service addresses) through the proxy, where they fail.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def control_plane_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if key.upper() not in PROXY_VARIABLES}


def running_pid(component: str, layout: Layout) -> int | None:
    """The component's pid if that very process still runs (not a zombie, not a reused pid)."""
    try:
        pid_text, started = layout.pid_file(component).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    _reap(pid)
    return pid if _start_time(pid) == started and not _zombie(pid) else None


def stop(component: str, layout: Layout, grace_seconds: float = 15.0) -> None:
    """SIGTERM to the process group, SIGKILL after the grace period; then forget the pid."""
    pid = running_pid(component, layout)
    if pid is not None:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _group_alive(pid):
                time.sleep(0.05)
    layout.pid_file(component).unlink(missing_ok=True)


def wait_healthy(component: str, url: str | None, layout: Layout, context: ssl.SSLContext | None,
                 timeout_seconds: float, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
    deadline = clock() + timeout_seconds
    last_error = "no answer yet"
    while clock() < deadline:
        if running_pid(component, layout) is None:
            raise ComponentFailed(f"{component} exited during start-up.\n{log_tail(component, layout)}")
        if url is None:
            return
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        sleep(0.25)
    raise ComponentFailed(f"{component} was not healthy at {url} after {timeout_seconds:.0f}s "
                          f"({last_error}).\n{log_tail(component, layout)}")


def log_tail(component: str, layout: Layout, lines: int = 20) -> str:
    path = layout.log_file(component)
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return f"last lines of {path}:\n" + "\n".join(f"  {line}" for line in tail)


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time in clock ticks


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (a CLI run in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    return bool(group_members(pgid))


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
