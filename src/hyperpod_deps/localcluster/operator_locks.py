"""A machine-wide lock on a port that a program insists on (no flag to move it).

The lock is an flock on a file in the cache. Its descriptor is meant to be inherited by the
process that listens on the port: the kernel then releases it when that process exits, even if
whoever started it is long gone, so a crashed test run never leaves it stuck.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from hyperpod_deps.localcluster.processes import PortTaken, port_free
from hyperpod_deps.toolchain.cache import cache_root


class PortBusy(RuntimeError):
    """Another local process of ours held the port's lock for the whole wait."""


@dataclass(frozen=True)
class PortLock:
    port: int
    fd: int


@contextlib.contextmanager
def hold_port(port: int, program: str, timeout_seconds: float) -> Iterator[PortLock]:
    """The lock, once free and once nothing else listens on the port; closed on exit here
    (a child that inherited the descriptor keeps holding it)."""
    directory = cache_root() / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"port-{port}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, port, program, timeout_seconds)
        if not port_free(port):
            raise PortTaken(f"{program} needs port {port} (fixed in its binary), and something that is "
                            f"not one of our {program}s listens there: `ss -ltnp` shows what")
        os.set_inheritable(fd, True)
        yield PortLock(port, fd)
    finally:
        os.close(fd)


def _acquire(fd: int, port: int, program: str, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise PortBusy(f"another local {program} has held port {port} for {timeout_seconds:.0f}s "
                               "(one at a time on a machine: the port is fixed in its binary)") from None
            time.sleep(0.5)
