"""`cluster` commands that need no control plane: bad input, status and down of no cluster."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from hyperpod_deps.cli.cluster import cluster_group


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERPOD_DEPS_CACHE", str(tmp_path / "cache"))


def test_bad_node_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(cluster_group, ["up", "--node", "p5.48xlarge=2"])
    assert result.exit_code == 2
    assert "not a HyperPod instance type" in result.output


def test_bad_node_file_is_a_usage_error(tmp_path: Path) -> None:
    spec = tmp_path / "nodes.yaml"
    spec.write_text("instanceGroups: [{instanceType: ml.p5.48xlarge, count: -1}]\n")
    result = CliRunner().invoke(cluster_group, ["up", "--nodes", str(spec)])
    assert result.exit_code == 2
    assert "count must be" in result.output


def test_bad_cluster_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(cluster_group, ["up", "--name", "Not_OK"])
    assert result.exit_code == 2


def test_status_of_no_cluster() -> None:
    result = CliRunner().invoke(cluster_group, ["status", "--name", "nothing"])
    assert result.exit_code == 1
    assert "cluster nothing: stopped" in result.output
    as_json = json.loads(CliRunner().invoke(cluster_group, ["status", "--name", "nothing", "--json"]).output)
    assert as_json["running"] is False
    assert as_json["components"][0]["name"] == "etcd"


def test_down_of_no_cluster_is_fine() -> None:
    result = CliRunner().invoke(cluster_group, ["down", "--name", "nothing"])
    assert result.exit_code == 0
    assert "stopped" in result.output


def test_down_purge_removes_the_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "cache" / "clusters" / "old"
    (state / "logs").mkdir(parents=True)
    result = CliRunner().invoke(cluster_group, ["down", "--name", "old", "--purge"])
    assert result.exit_code == 0
    assert not state.exists()


def test_up_without_root_refuses_and_names_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(cluster_group, ["up", "--name", "unprivileged"])
    assert result.exit_code == 5, result.output
    assert "needs root" in result.output and "--allow-egress" in result.output
