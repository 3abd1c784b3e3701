"""Process groups are stopped whole, pid files are trusted only for the same process, ports are
checked, and a failing build says where its log is."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hyperpod_deps.localcluster import processes
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.toolchain import gobuild


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    root = tmp_path / "clusters" / "t"
    root.mkdir(parents=True)
    return Layout("t", root)




def test_stop_ends_the_whole_process_group(layout: Layout) -> None:
    pid = processes.start("demo", ["sh", "-c", "sleep 300 & sleep 300 & wait"], layout)
    assert processes.running_pid("demo", layout) == pid
    processes.stop("demo", layout)
    assert processes.group_members(pid) == []
    assert processes.running_pid("demo", layout) is None
    assert not layout.pid_file("demo").exists()


def test_a_process_that_ignores_sigterm_is_killed(layout: Layout) -> None:
    pid = processes.start("stubborn", ["sh", "-c", "trap '' TERM; sleep 300"], layout)
    processes.stop("stubborn", layout, grace_seconds=0.5)
    assert processes.group_members(pid) == []


def test_a_recycled_pid_is_not_ours(layout: Layout) -> None:
    layout.run.mkdir(parents=True)
    layout.pid_file("old").write_text("1 12345\n")  # pid 1 runs, but started at another time
    assert processes.running_pid("old", layout) is None


def test_exit_during_start_up_shows_the_log(layout: Layout) -> None:
    processes.start("broken", ["sh", "-c", "echo 'flag provided but not defined' >&2; exit 3"], layout)
    with pytest.raises(processes.ComponentFailed, match="flag provided but not defined"):
        # A health URL nobody answers keeps the wait going until the exit is seen.
        processes.wait_healthy("broken", "http://127.0.0.1:9/healthz", layout, None, 10)


def test_taken_port_is_named() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(processes.PortTaken, match=f"kube-apiserver {port}"):
            processes.require_free({"kube-apiserver": port})
    assert processes.port_free(processes.free_port())


def test_failed_build_reports_the_log_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir()
    go = fake_bin / "go"
    go.write_text("#!/bin/sh\n[ \"$1\" = get ] && exit 0\necho 'compiling k8s.io/x'\n"
                  "echo 'k8s.io/x: undefined: Foo' >&2\nexit 1\n")
    go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    monkeypatch.setenv("HYPERPOD_DEPS_CACHE", str(tmp_path / "cache"))
    binary = gobuild.GoBinary("demo", "example.com/demo", "1.0")
    module = gobuild.ScratchModule("demo-v1", "module demo\n", (binary,), ("example.com/demo@v1",))
    with pytest.raises(gobuild.GoBuildFailed) as caught:
        gobuild.ensure_built(module, lambda _: None)
    assert "undefined: Foo" in str(caught.value)
    assert caught.value.log == tmp_path / "cache" / "gobuild" / "demo-v1" / "logs" / "demo.log"
    assert not gobuild.binary_path(module.binaries[0]).exists()


def test_control_plane_processes_do_not_inherit_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("KEEP_ME", "1")
    env = processes.control_plane_env()
    assert "HTTPS_PROXY" not in env and "http_proxy" not in env
    assert env["KEEP_ME"] == "1"
