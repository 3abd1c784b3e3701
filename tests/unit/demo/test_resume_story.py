"""The pure parts of the demo's auto-resume story: the job it submits, the settings its stand-in
agents get from the chart's ConfigMap, the kernel log line it writes, and the text it prints."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from click.testing import CliRunner

from hyperpod_deps.autorestart.validation import check
from hyperpod_deps.cli.health import classify_command
from hyperpod_deps.cli.jobs import check_command
from hyperpod_deps.core import wire
from hyperpod_deps.core.settings import convert
from hyperpod_deps.demo.story import (
    DEMO_NAMESPACE,
    JOB_NAME,
    PodPlace,
    ResumeStory,
    _local_agent_settings,
    demo_job,
    inject_xid_79,
    render_story,
)
from hyperpod_deps.health import settings as agent_settings
from tests.support.charts import Renderer, named

FAULTY, HEALTHY = "hyperpod-i-0aaa", "hyperpod-i-0bbb"


def a_story(tainted: bool = True) -> ResumeStory:
    return ResumeStory(
        faulty_node=FAULTY, health_status=wire.UNSCHEDULABLE_PENDING_REPLACEMENT, tainted=tainted,
        before=[PodPlace("master", "demo-resume-master-0", HEALTHY, "u1"),
                PodPlace("worker", "demo-resume-worker-0", FAULTY, "u2")],
        after=[PodPlace("master", "demo-resume-master-0", HEALTHY, "u3"),
               PodPlace("worker", "demo-resume-worker-0", HEALTHY, "u4")],
        restarts="1",
        events=["Normal AutoRestart: Restart 1 of 2 after NodeUnschedulable"],
        seconds={"quarantined": 0.63, "back": 1.27},
        logs={"job-auto-restart": "/c/logs/standin-job-auto-restart.log"})


# The job -----------------------------------------------------------------------------------

def test_the_demo_job_passes_the_auto_resume_check_without_a_single_remark() -> None:
    job = demo_job()
    assert (job["kind"], job["metadata"]["namespace"], job["metadata"]["name"]) == (
        "PyTorchJob", DEMO_NAMESPACE, JOB_NAME)
    assert check(job) == []


def test_jobs_check_accepts_the_demo_job(tmp_path: Path) -> None:
    manifest = tmp_path / "demo-job.yaml"
    manifest.write_text(yaml.safe_dump(demo_job()))
    result = CliRunner().invoke(check_command, [str(manifest)])
    assert result.exit_code == 0, result.output
    assert "PyTorchJob hyperpod-demo/demo-resume: can be auto-resumed" in result.output


def test_the_demo_job_opts_in_with_a_budget_of_two_and_needs_a_gpu_per_pod() -> None:
    job = demo_job()
    assert job["metadata"]["annotations"] == {wire.AUTO_RESUME_ANNOTATION: "true",
                                              wire.MAX_RETRY_ANNOTATION: "2"}
    replicas = job["spec"]["pytorchReplicaSpecs"]
    assert sorted(replicas) == ["Master", "Worker"]
    for spec in replicas.values():
        (container,) = spec["template"]["spec"]["containers"]
        assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}


# The stand-in agents' settings ---------------------------------------------------------------

def _chart_agent_settings(render3: Renderer, family: str) -> dict[str, Any]:
    objects = render3("global.platform=generic")
    config_map = named(objects, "ConfigMap", "health-monitoring-agent")
    settings: dict[str, Any] = yaml.safe_load(config_map["data"][f"config-{family}.yaml"])
    return settings


@pytest.mark.parametrize("family", ["nvidia", "neuron"])
def test_the_chart_settings_made_local_read_only_the_nodes_log_file(
        render3: Renderer, tmp_path: Path, family: str) -> None:
    chart = _chart_agent_settings(render3, family)
    assert chart["sources"]["journal"]["enabled"]  # what a real node reads, and a simulated one has not
    log = tmp_path / "messages"
    local = _local_agent_settings(chart, tmp_path, log)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(local))
    loaded = agent_settings.load(path, environ={"NODE_NAME": "n1"})
    sources = loaded.sources
    assert not any(source.enabled for source in (sources.journal, sources.kmsg, sources.nvml, sources.neuron,
                                                 sources.efa))
    assert sources.log_files.paths == (log,) and sources.log_files.trust_kernel_tag
    assert loaded.state_dir == tmp_path / "state"
    assert loaded.metrics_port == 0  # several agents on one machine: no port to share
    # Everything else is the chart's own.
    assert loaded.platform == "generic" == chart["platform"]
    assert loaded.node_name == "n1"
    assert loaded.writer.debounce_seconds == chart["writer"]["debounceSeconds"]
    assert loaded.dedupe_window_seconds == chart["dedupeWindowSeconds"]


def test_the_agents_own_defaults_made_local_still_validate(tmp_path: Path) -> None:
    # The agent's own defaults, written out camelCase as the chart does, stay loadable.
    defaults = msgspec.to_builtins(agent_settings.Settings(), enc_hook=str)
    local = _local_agent_settings(defaults, tmp_path, tmp_path / "messages")
    assert convert(agent_settings.Settings, local).sources.log_files.paths == (tmp_path / "messages",)


# The fault ---------------------------------------------------------------------------------

def test_the_injected_line_is_an_xid_79_that_calls_for_replacement(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("Nov 28 21:00:00 n1 kernel: [    1.000000] Linux version 6.1\n")
    inject_xid_79(log, "n1")
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and " n1 kernel: " in lines[1]  # appended, syslog style, the node's name
    result = CliRunner().invoke(classify_command, [str(log), "--json"])
    assert result.exit_code == 0, result.output
    (found,) = json.loads(result.output)
    assert (found["line"], found["rule"], found["action"]) == (2, "xid-79", "replace")


# The story as printed ----------------------------------------------------------------------

def test_the_story_names_the_node_its_quarantine_and_the_restart() -> None:
    text = render_story(a_story())
    lines = text.splitlines()
    assert lines[0] == f"Auto-resume: PyTorchJob hyperpod-demo/demo-resume after an Xid 79 on {FAULTY}."
    status = "sagemaker.amazonaws.com/node-health-status=UnschedulablePendingReplacement"
    assert lines[1] == f"  {FAULTY}: {status}, tainted NoSchedule (0.6s after the kernel log line)"
    assert lines[2] == ("  the job runs again 1.3s after the line; restarts counted on the job: 1 "
                        "(hyperpod-deps.io/auto-restart-count)")
    assert lines[3].split() == ["ROLE", "POD", "BEFORE", "NODE", "BEFORE", "POD", "AFTER", "NODE", "AFTER"]
    assert lines[5].split() == ["worker", "demo-resume-worker-0", FAULTY, "demo-resume-worker-0", HEALTHY]
    assert "Events on the job:\n  Normal AutoRestart: Restart 1 of 2" in text
    assert text.endswith("Logs of the stand-ins:\n  job-auto-restart: /c/logs/standin-job-auto-restart.log")


def test_the_story_says_so_when_the_node_is_not_tainted() -> None:
    assert "UnschedulablePendingReplacement, not tainted (" in render_story(a_story(tainted=False))


def test_a_role_that_was_not_running_before_shows_dashes() -> None:
    story = dataclasses.replace(a_story(), before=a_story().before[:1])
    worker = next(line for line in render_story(story).splitlines() if line.startswith("worker"))
    assert worker.split() == ["worker", "-", "-", "demo-resume-worker-0", HEALTHY]
