"""The machine-wide lock on a port an operator hard-codes: held by the process that listens."""
from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperpod_deps.localcluster.operator_locks import PortBusy, hold_port
from hyperpod_deps.localcluster.processes import PortTaken, free_port


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERPOD_DEPS_CACHE", str(tmp_path))


@pytest.fixture
def child_holding() -> Iterator[list[subprocess.Popen[bytes]]]:
    children: list[subprocess.Popen[bytes]] = []
    yield children
    for child in children:
        child.kill()
        child.wait()


def test_a_second_holder_waits_then_gives_up() -> None:
    port = free_port()
    with (hold_port(port, "op", timeout_seconds=1), pytest.raises(PortBusy, match=f"port {port}"),
          hold_port(port, "op", timeout_seconds=0.2)):
        pass


def test_the_lock_lives_as_long_as_the_process_that_inherited_it(
        child_holding: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    with hold_port(port, "op", timeout_seconds=1) as lock:
        child_holding.append(subprocess.Popen(["sleep", "60"], pass_fds=(lock.fd,)))
    with pytest.raises(PortBusy), hold_port(port, "op", timeout_seconds=0.2):
        pass  # we closed our descriptor, the child still holds the lock
    child_holding[0].kill()
    child_holding[0].wait()
    with hold_port(port, "op", timeout_seconds=1):
        pass


def test_a_stranger_on_the_port_is_named_not_waited_for() -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        with pytest.raises(PortTaken, match=f"port {port}"), hold_port(port, "op", timeout_seconds=1):
            pass
