"""The demo's pure parts: the helm command it prints and runs, the wait for readiness (with a
fake clock and canned API answers), and the text it prints at the end (with and without the
auto-resume story)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hyperpod_deps.cli.demo import (
    LOCAL_CLUSTER_VALUES,
    POLL_SECONDS,
    DemoResult,
    KubectlFailed,
    NotReady,
    chart_argument,
    demo_command,
    helm_argv,
    render,
    wait_ready,
)
from hyperpod_deps.demo.story import ResumeStory, render_story
from hyperpod_deps.localcluster.placement import ApiObject, placement
from tests.unit.demo.test_resume_story import a_story
from tests.unit.localcluster.test_placement import daemonset, deployment, node, pod, replicaset


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


class Answers:
    """Each call returns the next answer (the last one repeats); an exception is raised."""

    def __init__(self, *answers: list[dict[str, Any]] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> list[ApiObject]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return list(answer)


def test_a_fresh_cluster_gets_the_documented_install_command_on_the_generic_platform() -> None:
    argv = helm_argv(Path("/cache/helm"), "helm_chart/HyperPodHelmChart", Path("/k/kubeconfig"), reused=False)
    assert argv == ["/cache/helm", "install", "dependencies", "helm_chart/HyperPodHelmChart",
                    "--namespace", "kube-system", "--set", "global.platform=generic",
                    "--kubeconfig", "/k/kubeconfig"]


def test_the_one_extra_value_is_the_generic_platform() -> None:
    # No HyperPod control plane runs locally: the open agent and the controller must act.
    assert LOCAL_CLUSTER_VALUES == ("--set", "global.platform=generic")


def test_a_reused_cluster_gets_an_upgrade_that_also_installs_with_the_same_values() -> None:
    argv = helm_argv(Path("/cache/helm"), "chart", Path("/k"), reused=True)
    assert argv[1:5] == ["upgrade", "--install", "dependencies", "chart"]
    assert argv[-4:] == ["--set", "global.platform=generic", "--kubeconfig", "/k"]


def test_chart_is_named_as_the_readme_does_when_run_from_the_checkout(tmp_path: Path) -> None:
    chart = tmp_path / "helm_chart" / "HyperPodHelmChart"
    chart.mkdir(parents=True)
    assert chart_argument(chart, tmp_path) == "helm_chart/HyperPodHelmChart"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert chart_argument(chart, elsewhere) == str(chart)


def test_wait_returns_once_every_workload_is_ready() -> None:
    clock, lines = FakeClock(), list[str]()
    answers = Answers(
        [daemonset("nvidia", "nvidia-device-plugin", desired=3, ready=0, observed=None)],
        [daemonset("nvidia", "nvidia-device-plugin", desired=3, ready=1)],
        [daemonset("nvidia", "nvidia-device-plugin", desired=3)],
    )
    statuses = wait_ready(answers, 60, lines.append, clock, clock.sleep)
    assert [s.ready for s in statuses] == [True]
    assert answers.calls == 3 and clock.sleeps == 2
    assert lines == ["0/1 workloads ready; waiting for DaemonSet/nvidia 0/3",
                     "0/1 workloads ready; waiting for DaemonSet/nvidia 1/3"]


def test_wait_outlasts_a_failing_request() -> None:
    clock, lines = FakeClock(), list[str]()
    answers = Answers(KubectlFailed("connection refused"), [deployment("op", "mpi-operator")])
    wait_ready(answers, 60, lines.append, clock, clock.sleep)
    assert lines == ["cannot read the workloads yet (connection refused)"]


def test_wait_names_what_is_not_ready_at_the_deadline() -> None:
    clock, lines = FakeClock(), list[str]()
    answers = Answers([daemonset("nvidia", "nvidia-device-plugin", desired=3, ready=2),
                       deployment("op", "mpi-operator")])
    expected = r"not ready after 30s: .*1/2 workloads ready; waiting for DaemonSet/nvidia 2/3"
    with pytest.raises(NotReady, match=expected):
        wait_ready(answers, 30, lines.append, clock, clock.sleep)
    assert clock.sleeps == 30 / POLL_SECONDS
    # The same state is repeated at most every 10 s, not at every poll.
    assert 3 <= len(lines) <= 4


def test_wait_names_a_few_workloads_and_counts_the_rest() -> None:
    clock, lines = FakeClock(), list[str]()
    answers = Answers([daemonset(f"d{i}", "c", desired=1, ready=0) for i in range(5)])
    with pytest.raises(NotReady):
        wait_ready(answers, 2, lines.append, clock, clock.sleep)
    assert lines[0] == ("0/5 workloads ready; waiting for DaemonSet/d0 0/1, DaemonSet/d1 0/1, "
                        "DaemonSet/d2 0/1 and 2 more")


def test_wait_does_not_take_no_workloads_for_ready() -> None:
    clock = FakeClock()
    with pytest.raises(NotReady, match="no Deployment or DaemonSet of release dependencies found"):
        wait_ready(Answers([]), 10, lambda _: None, clock, clock.sleep)


def _result(reused: bool = False, cluster: str = "hyperpod-local",
            story: ResumeStory | None = None) -> DemoResult:
    objects = [daemonset("nvidia", "nvidia-device-plugin", desired=1), pod("n1", "DaemonSet", "nvidia", "p5"),
               deployment("op", "trainingOperators"), replicaset("op-1", "op"),
               pod("o", "ReplicaSet", "op-1", "p5")]
    where = placement(objects, [node("p5", "ml.p5.48xlarge"), node("m5", "ml.m5.2xlarge")],
                      {"trainingOperators": "training-operators"})
    return DemoResult(cluster, "https://127.0.0.1:6443", Path("/c/kubeconfig"), reused, "helm install ...",
                      Path("/bin/helm-3/helm"), Path("/bin/kubectl-1/kubectl"), where,
                      {"cluster": 10.0, "install": 3.0, "ready": 7.5}, story)


def test_render_shows_each_workload_and_what_runs_on_each_node() -> None:
    text = render(_result(), kept=True)
    assert ("Release dependencies installed in namespace kube-system on cluster hyperpod-local (2 nodes): "
            "every Deployment and DaemonSet is ready.") in text
    lines = text.splitlines()
    assert any(line.split() == ["nvidia-device-plugin", "DaemonSet/nvidia", "1/1", "ml.p5.48xlarge"]
               for line in lines)
    assert any(line.split() == ["m5", "ml.m5.2xlarge", "-", "-"] for line in lines)
    p5 = lines.index(next(line for line in lines if line.startswith("p5 ")))
    assert lines[p5].split() == ["p5", "ml.p5.48xlarge", "nvidia-device-plugin", "DaemonSet/nvidia"]
    assert lines[p5 + 1].split() == ["training-operators", "Deployment/op"]
    assert "all ready 7.5s after helm started" in text


def test_render_tells_how_to_use_and_stop_a_kept_cluster() -> None:
    text = render(_result(), kept=True)
    assert "export KUBECONFIG=/c/kubeconfig" in text
    assert "export PATH=/bin/kubectl-1:/bin/helm-3:$PATH" in text
    assert "kubectl get pods -A -o wide" in text
    assert text.rstrip().endswith("hyperpod-deps cluster down")
    named = render(_result(cluster="mine"), kept=True)
    assert named.rstrip().endswith("hyperpod-deps cluster down --name mine")


def test_render_of_a_stopped_or_reused_cluster() -> None:
    stopped = render(_result(cluster="mine"), kept=False)
    assert "The cluster is stopped (--down). `hyperpod-deps demo --name mine` starts it again." in stopped
    assert "KUBECONFIG" not in stopped
    assert "Release dependencies upgraded" in render(_result(reused=True), kept=True)


def test_render_tells_the_story_between_the_timings_and_the_next_steps() -> None:
    story = a_story()
    text = render(_result(story=story), kept=True)
    told = render_story(story)
    assert told in text
    assert text.index("all ready 7.5s") < text.index(told) < text.index("The cluster keeps running")


def test_render_without_a_story_says_nothing_of_one() -> None:  # --no-fault
    assert "Auto-resume" not in render(_result(), kept=True)


def test_a_bad_cluster_name_is_a_usage_error() -> None:
    result = CliRunner().invoke(demo_command, ["--name", "Not_OK"])
    assert result.exit_code == 2
    assert "cluster name 'Not_OK'" in result.output
