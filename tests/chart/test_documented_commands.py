"""The documented helm commands, verbatim, from the repository root.

Commands that need a cluster (helm list, upgrade, a Helm 3 dry-run) are
exercised on the local control plane by the end-to-end tests.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART, ROOT


def offline_env(home: Path) -> dict[str, str]:
    """helm with its own empty config and a proxy that refuses every connection."""
    env = dict(os.environ)
    env.update(
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_DATA_HOME=str(home / "data"),
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="",
    )
    return env


def run_documented(helm: Path, command: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    assert argv[0] == "helm"
    return subprocess.run(
        [str(helm), *argv[1:]], cwd=cwd, env=offline_env(home), capture_output=True, text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    ["helm lint helm_chart/HyperPodHelmChart", "helm lint --strict helm_chart/HyperPodHelmChart"],
)
def test_lint_is_clean(helm: Path, command: str, tmp_path: Path) -> None:
    result = run_documented(helm, command, ROOT, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_dependencies_update_works_with_no_network(helm: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "checkout"
    shutil.copytree(CHART, workdir / "helm_chart/HyperPodHelmChart", symlinks=True)
    result = run_documented(
        helm, "helm dependencies update helm_chart/HyperPodHelmChart", workdir, tmp_path
    )
    assert result.returncode == 0, result.stderr
    charts = workdir / "helm_chart/HyperPodHelmChart/charts"
    assert not list(charts.glob("*.tgz")), "update must not add archives beside the embedded charts"
    fresh = yaml.safe_load((charts.parent / "Chart.lock").read_text())
    committed = yaml.safe_load((CHART / "Chart.lock").read_text())
    assert fresh["dependencies"] == committed["dependencies"]
    assert fresh["digest"] == committed["digest"], "Chart.lock is stale: run helm dependencies update"
    assert all(dep["repository"] == "" for dep in fresh["dependencies"])


def test_install_dry_run_with_helm4(tmp_path: Path) -> None:
    # Helm 3 needs a reachable cluster even for --dry-run; the e2e tests run it there.
    result = run_documented(
        helm_path(4),
        "helm install dependencies helm_chart/HyperPodHelmChart --namespace kube-system --dry-run",
        ROOT, tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "STATUS: pending-install" in result.stdout
    assert "kind: DaemonSet" in result.stdout
    assert "Enabled components:" in result.stdout


def test_team_role_install_dry_run_from_the_umbrella(tmp_path: Path) -> None:
    result = run_documented(
        helm_path(4),
        "helm install dependencies helm_chart/HyperPodHelmChart --namespace kube-system "
        "--set computeQuotaTarget.targetId=team-a --dry-run",
        ROOT, tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "name: hyperpod-ns-team-a-namespace-role" in result.stdout


def test_team_role_standalone_install_dry_run(tmp_path: Path) -> None:
    result = run_documented(
        helm_path(4),
        "helm install dependencies helm_chart/HyperPodHelmChart/charts/team-role-and-bindings "
        "--set computeQuotaTarget.targetId=team-a --dry-run",
        ROOT, tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "name: hyperpod-ns-team-a-cluster-role" in result.stdout


def test_no_archive_sits_beside_an_embedded_chart() -> None:
    # Helm would load both and render nondeterministically.
    assert not list((CHART / "charts").glob("*.tgz"))
