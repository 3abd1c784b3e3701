"""Stand-ins are plain local processes kept in the cluster's folder: started with their own
environment, restarted (never doubled) under the same name, and all stopped by stop_all, which
leaves the cluster's other processes alone."""
from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.localcluster import processes, standins
from hyperpod_deps.localcluster.layout import Layout
from tests.support.waiting import poll


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout("t", tmp_path)  # the cluster's folder: stand-ins run from it


def test_a_stand_in_runs_with_its_environment_and_logs_to_the_cluster_folder(layout: Layout) -> None:
    pid = standins.start(layout, "agent-n1", ["sh", "-c", 'echo "node=$NODE_NAME"; sleep 30'],
                         env={"NODE_NAME": "n1"})
    try:
        assert standins.running(layout, "agent-n1") == pid
        assert layout.pid_file("standin-agent-n1").exists()
        log = standins.log_file(layout, "agent-n1")
        assert log == layout.logs / "standin-agent-n1.log"
        poll(log.read_text, lambda text: "node=n1" in text, "the stand-in's first line", 10)
    finally:
        standins.stop_all(layout)


def test_starting_again_replaces_the_running_one(layout: Layout) -> None:
    first = standins.start(layout, "controller", ["sleep", "30"])
    second = standins.start(layout, "controller", ["sleep", "30"])
    try:
        assert second != first
        assert processes.group_members(first) == []
        assert standins.running(layout, "controller") == second
    finally:
        standins.stop_all(layout)


def test_stop_all_stops_every_stand_in_and_nothing_else(layout: Layout) -> None:
    pids = [standins.start(layout, name, ["sleep", "30"]) for name in ("controller", "agent-n1", "agent-n2")]
    other = processes.start("kwok", ["sleep", "30"], layout)  # a cluster process, not a stand-in
    try:
        standins.stop_all(layout)
        assert [processes.group_members(pid) for pid in pids] == [[], [], []]
        assert [standins.running(layout, name) for name in ("controller", "agent-n1", "agent-n2")] == [
            None, None, None]
        assert sorted(p.name for p in layout.run.iterdir()) == ["kwok.pid"]
        assert processes.running_pid("kwok", layout) == other
    finally:
        processes.stop("kwok", layout)


def test_stop_all_on_a_cluster_that_never_ran_one_does_nothing(layout: Layout) -> None:
    standins.stop_all(layout)
    assert not layout.run.exists()


def test_each_stand_in_gets_its_own_work_folder(layout: Layout) -> None:
    folder = standins.workdir(layout, "agent-n1")
    assert folder == layout.root / "standins" / "agent-n1" and folder.is_dir()
    assert standins.workdir(layout, "agent-n1") == folder  # idempotent

