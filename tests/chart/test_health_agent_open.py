"""The open health monitoring agent in the chart (agent: open, the default on generic):
image, placement, security, host mounts, the settings file the agent reads, users' rules,
RBAC and the install notes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps import __version__
from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.quantity import parse_quantity
from hyperpod_deps.core.wire import NODE_HEALTH_TOLERATION
from hyperpod_deps.health import settings as agent_settings
from hyperpod_deps.health.rules import RuleError, RuleSet, RuleSource
from tests.chart.conftest import render_scenario
from tests.chart.test_health_monitoring_agent import (
    AGENTS,
    NAMESPACE,
    ROLE,
    agent_container,
    agents,
    notes,
    tolerates,
)
from tests.support.charts import CHART, Renderer, named, pod_spec

GENERIC = "global.platform=generic"
SCENARIO = CHART / "ci" / "35-open-health-agent-values.yaml"
CONFIG = "/etc/hyperpod-deps/health/config.yaml"
STATE = "/var/lib/hyperpod-deps/health-agent"
KMSG = "health-monitoring-agent.openAgent.config.sources.kmsg.enabled=true"
JOURNAL_PATH = "health-monitoring-agent.openAgent.config.sources.journal.path"


def config_map(objects: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = named(objects, "ConfigMap", "health-monitoring-agent")["data"]
    return data


def settings_of(objects: list[Manifest], family: str, tmp_path: Path) -> agent_settings.Settings:
    """The settings file of a family, read the way the agent reads it."""
    path = tmp_path / f"config-{family}.yaml"
    path.write_text(config_map(objects)[f"config-{family}.yaml"])
    return agent_settings.load(path, {"NODE_NAME": "node-a"})


def mounts(ds: Manifest) -> dict[str, dict[str, Any]]:
    """Mount path -> {volume, readOnly, hostPath}."""
    volumes = {v["name"]: v for v in pod_spec(ds)["volumes"]}
    return {m["mountPath"]: {"volume": m["name"], "readOnly": m.get("readOnly", False),
                             "hostPath": (volumes[m["name"]].get("hostPath") or {}).get("path")}
            for m in agent_container(ds)["volumeMounts"]}


# --- which agent, which image ---------------------------------------------------------------


def test_generic_platform_runs_the_open_agent_from_the_project_image(render: Renderer) -> None:
    objects = render(GENERIC)
    assert sorted(ds["metadata"]["name"] for ds in agents(objects)) == sorted(AGENTS.values())
    for ds in agents(objects):
        container = agent_container(ds)
        assert container["image"] == f"ghcr.io/hyperpod-deps/agents:{__version__}"
        assert container["command"] == ["hyperpod-deps", "health", "agent", "--config", CONFIG]
        node_name = {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
        assert node_name in container["env"]
        assert pod_spec(ds)["priorityClassName"] == "system-node-critical"
        assert pod_spec(ds)["serviceAccountName"] == "health-monitoring-agent"


def test_the_hyperpod_platform_keeps_the_aws_agent_unless_asked(render3: Renderer) -> None:
    assert all("dkr.ecr" in agent_container(ds)["image"] for ds in agents(render3()))
    opened = render3("health-monitoring-agent.agent=open")
    assert {agent_container(ds)["image"] for ds in agents(opened)} == {
        f"ghcr.io/hyperpod-deps/agents:{__version__}"}


def test_the_open_image_takes_the_global_mirror_and_a_digest_wins(render3: Renderer) -> None:
    digest = "sha256:" + "ab" * 32
    objects = render3(GENERIC, "global.imageRegistry=mirror.example.com",
                      f"health-monitoring-agent.openAgent.image.digest={digest}")
    assert {agent_container(ds)["image"] for ds in agents(objects)} == {
        f"mirror.example.com/hyperpod-deps/agents@{digest}"}


def test_the_default_tag_is_the_python_package_version() -> None:
    helpers = (CHART / "charts/health-monitoring-agent/templates/_helpers.tpl").read_text()
    block = helpers.split('define "health-monitoring-agent.openVersion" -}}', 1)[1]
    assert block.split("{{-", 1)[0].strip() == __version__


def test_nvml_is_reachable_on_nvidia_nodes_without_taking_a_gpu(render3: Renderer) -> None:
    objects = render3(GENERIC)
    nvidia = agent_container(named(objects, "DaemonSet", AGENTS["nvidia"]))
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"} in nvidia["env"]
    assert {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "utility"} in nvidia["env"]
    assert not any("nvidia.com" in key for key in (nvidia["resources"].get("limits") or {}))
    neuron = agent_container(named(objects, "DaemonSet", AGENTS["neuron"]))
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in neuron["env"]


# --- resources, tolerations, mounts, security --------------------------------------------------


@pytest.mark.parametrize("scenario", [None, SCENARIO], ids=["defaults", "scenario-35"])
def test_requests_stay_small(render3: Renderer, scenario: Path | None) -> None:
    objects = list(render_scenario(scenario)) if scenario else render3(GENERIC)
    for ds in agents(objects):
        resources = agent_container(ds)["resources"]
        assert parse_quantity(str(resources["requests"]["cpu"])) <= parse_quantity("50m")
        assert parse_quantity(str(resources["requests"]["memory"])) <= parse_quantity("128Mi")
        assert resources["limits"]["memory"]


def test_the_agent_tolerates_the_taint_it_sets(render3: Renderer) -> None:
    for ds in agents(render3(GENERIC)):
        assert tolerates(pod_spec(ds)["tolerations"], NODE_HEALTH_TOLERATION)


def test_the_open_agent_uses_the_same_namespace_as_the_aws_one(render3: Renderer) -> None:
    objects = render3(GENERIC)
    assert {ds["metadata"]["namespace"] for ds in agents(objects)} == {NAMESPACE}
    assert named(objects, "ConfigMap", "health-monitoring-agent")["metadata"]["namespace"] == NAMESPACE


def test_host_paths_are_read_only_but_the_agents_own_state(render3: Renderer) -> None:
    objects = render3(GENERIC)
    nvidia = mounts(named(objects, "DaemonSet", AGENTS["nvidia"]))
    assert {path: m["hostPath"] for path, m in nvidia.items() if m["hostPath"]} == {
        "/var/log": "/var/log", "/host/sys": "/sys", STATE: STATE}
    for path, mount in nvidia.items():
        assert mount["readOnly"] is (path != STATE), path
    neuron = mounts(named(objects, "DaemonSet", AGENTS["neuron"]))
    assert neuron["/host/dev"] == {"volume": "host-dev", "readOnly": True, "hostPath": "/dev"}
    with_kmsg = mounts(named(render3(GENERIC, KMSG), "DaemonSet", AGENTS["nvidia"]))
    assert with_kmsg["/dev/kmsg"] == {"volume": "kmsg", "readOnly": True, "hostPath": "/dev/kmsg"}


def test_by_default_the_agent_reads_the_journal_unprivileged(render3: Renderer, tmp_path: Path) -> None:
    """journald marks the kernel's records, and its files need only a group to read: no root, no
    capability, no /dev/kmsg."""
    objects = render3(GENERIC)
    settings = settings_of(objects, "nvidia", tmp_path)
    assert settings.sources.journal.enabled and settings.sources.journal.path == Path("/var/log/journal")
    assert not settings.sources.kmsg.enabled and not settings.sources.log_files.trust_kernel_tag
    for ds in agents(objects):
        pod = pod_spec(ds)["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 65532
        assert pod["supplementalGroups"] == [4, 190]  # adm (journald's ACL), systemd-journal on AL2023
        container = agent_container(ds)["securityContext"]
        assert container == {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                             "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
        assert "hyperpod-deps/privileged-reason" not in ds["spec"]["template"]["metadata"]["annotations"]


def test_a_volatile_journal_under_run_log_is_mounted_read_only(render3: Renderer) -> None:
    ds = named(render3(GENERIC, f"{JOURNAL_PATH}=/run/log/journal"), "DaemonSet", AGENTS["nvidia"])
    assert mounts(ds)["/run/log"] == {"volume": "host-run-log", "readOnly": True, "hostPath": "/run/log"}
    assert "/run/log" not in mounts(named(render3(GENERIC), "DaemonSet", AGENTS["nvidia"]))
    with pytest.raises(RenderError, match="journal"):
        render3(GENERIC, f"{JOURNAL_PATH}=/etc/journal")


def test_reading_kmsg_takes_a_privileged_root_container(render3: Renderer) -> None:
    for ds in agents(render3(GENERIC, KMSG)):
        assert pod_spec(ds)["securityContext"]["runAsUser"] == 0
        security = agent_container(ds)["securityContext"]
        assert security == {"readOnlyRootFilesystem": True, "privileged": True}
        assert "/dev/kmsg" in ds["spec"]["template"]["metadata"]["annotations"][
            "hyperpod-deps/privileged-reason"]


def test_without_kmsg_the_agent_is_non_root_with_no_capabilities() -> None:
    objects = list(render_scenario(SCENARIO))
    for ds in agents(objects):
        pod = pod_spec(ds)["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 65532
        assert pod["supplementalGroups"] == [4]
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        container = agent_container(ds)["securityContext"]
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"] == {"drop": ["ALL"]}
        assert "privileged" not in container
        assert "/dev/kmsg" not in mounts(ds)


def test_without_kmsg_an_init_container_gives_the_agent_its_state_directory() -> None:
    """The kubelet creates the state hostPath root-owned; only that directory changes owner."""
    for ds in agents(list(render_scenario(SCENARIO))):
        (init,) = pod_spec(ds)["initContainers"]
        assert init["command"] == ["chown", "65532:65532", STATE]
        assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
        assert init["securityContext"]["allowPrivilegeEscalation"] is False
        assert init["securityContext"]["readOnlyRootFilesystem"] is True
        assert [(m["name"], m["mountPath"]) for m in init["volumeMounts"]] == [("state", STATE)]


def test_a_root_agent_needs_no_init_container(render3: Renderer) -> None:
    for ds in agents(render3(GENERIC, KMSG)):
        assert "initContainers" not in pod_spec(ds)


# --- the settings file and the users' rules ------------------------------------------------------


def test_the_settings_file_is_what_the_agent_reads(render3: Renderer, tmp_path: Path) -> None:
    objects = render3(GENERIC)
    nvidia = settings_of(objects, "nvidia", tmp_path)
    assert nvidia.platform == "generic"
    assert nvidia.sources.nvml.enabled and not nvidia.sources.neuron.enabled
    assert nvidia.state_dir == Path(STATE) and nvidia.host_root == Path("/host")
    neuron = settings_of(objects, "neuron", tmp_path)
    assert neuron.sources.neuron.enabled and not neuron.sources.nvml.enabled
    items = pod_spec(named(objects, "DaemonSet", AGENTS["neuron"]))["volumes"][0]["configMap"]["items"]
    assert items == [{"key": "config-neuron.yaml", "path": "config.yaml"}]


def test_scenario_values_reach_the_agent_and_its_rules_load(tmp_path: Path) -> None:
    objects = list(render_scenario(SCENARIO))
    settings = settings_of(objects, "nvidia", tmp_path)
    assert settings.platform == "hyperpod"
    assert not settings.sources.kmsg.enabled
    assert settings.sources.log_files.paths == (Path("/var/log/kern.log"),)
    assert settings.writer.debounce_seconds == 5 and settings.metrics_port == 9809
    assert settings.extra_rule_files == (Path("/etc/hyperpod-deps/health/rules/site.yaml"),)
    ds = named(objects, "DaemonSet", AGENTS["nvidia"])
    items = pod_spec(ds)["volumes"][0]["configMap"]["items"]
    assert {"key": "rules-site.yaml", "path": "rules/site.yaml"} in items
    assert agent_container(ds)["ports"] == [{"name": "metrics", "containerPort": 9809, "protocol": "TCP"}]
    rules = RuleSet.load([RuleSource("rules-site.yaml", config_map(objects)["rules-site.yaml"])])
    assert rules.escalation("xid-74") is not None
    reset = rules.match("kmsg", "NVRM: GPU at PCI:0000:b9:00.0 requires a reset")
    assert reset is not None and reset.reason == "GpuResetRequired"


def test_new_settings_or_rules_roll_the_pods(render3: Renderer) -> None:
    def checksum(*values: str) -> str:
        ds = named(render3(GENERIC, *values), "DaemonSet", AGENTS["nvidia"])
        return str(ds["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum() != checksum("health-monitoring-agent.openAgent.config.recoveryDelaySeconds=5")


@pytest.mark.parametrize(("assignment", "complaint"), [
    ("health-monitoring-agent.agent=npd", "agent"),
    ("health-monitoring-agent.openAgent.config.writer.debounce=1", "debounce"),
    ("health-monitoring-agent.openAgent.config.sources.logFiles.paths={/etc/shadow}", "paths"),
    ("health-monitoring-agent.openAgent.config.metricsPort=70000", "metricsPort"),
    ("health-monitoring-agent.openAgent.rules.site.source=syslog", "source"),
    ("health-monitoring-agent.openAgent.rules.Site.source=kmsg", "Site"),
    ("health-monitoring-agent.openAgent.rules.site.rules[0].id=xid-79,"
     "health-monitoring-agent.openAgent.rules.site.source=kmsg,"
     "health-monitoring-agent.openAgent.rules.site.rules[0].action=ignore", "action"),
    ("health-monitoring-agent.openAgent.rules.site.rules[0].id=xid-79,"
     "health-monitoring-agent.openAgent.rules.site.source=kmsg,"
     "health-monitoring-agent.openAgent.rules.site.rules[0].regex=x", "regex"),
])
def test_schema_rejects_bad_open_agent_values(render3: Renderer, assignment: str, complaint: str) -> None:
    with pytest.raises(RenderError, match=complaint):
        render3(GENERIC, assignment)


def test_a_rule_the_schema_accepts_but_the_agent_cannot_use_is_refused_at_start(render3: Renderer) -> None:
    """A new rule id needs every key; the schema cannot tell new from known ids, the agent can."""
    objects = render3(GENERIC, "health-monitoring-agent.openAgent.rules.site.source=kmsg",
                      "health-monitoring-agent.openAgent.rules.site.rules[0].id=brand-new")
    text = config_map(objects)["rules-site.yaml"]
    assert yaml.safe_load(text)["rules"] == [{"id": "brand-new"}]
    with pytest.raises(RuleError, match="brand-new"):
        RuleSet.load([RuleSource("rules-site.yaml", text)])


# --- RBAC and notes ------------------------------------------------------------------------------


def test_open_agent_rbac_is_exactly_what_it_uses(render3: Renderer) -> None:
    role = named(render3(GENERIC), "ClusterRole", ROLE)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "update"]},
        {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["update"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
    ]


@pytest.mark.parametrize(("values", "kernel"), [
    ([KMSG, "health-monitoring-agent.openAgent.config.sources.journal.enabled=false"],
     "kernel log from /dev/kmsg (privileged container),"),
    (["health-monitoring-agent.openAgent.config.sources.logFiles.paths={/var/log/kern.log}"],
     "/var/log/journal (non-root); /var/log/kern.log (matches only logged: a text line cannot prove"),
    (["health-monitoring-agent.openAgent.config.sources.journal.enabled=false"],
     "kernel log from no source: nothing reads the kernel log"),
])
def test_notes_say_which_kernel_sources_may_act(values: list[str], kernel: str) -> None:
    line = next(text for text in notes(GENERIC, *values).splitlines() if "health-monitoring-agent:" in text)
    assert kernel in line


def test_notes_name_the_open_agent_and_how_it_reads_the_kernel_log() -> None:
    line = next(text for text in notes(GENERIC).splitlines() if "health-monitoring-agent:" in text)
    assert "the open agent (hyperpod-deps health agent)" in line
    assert f"ghcr.io/hyperpod-deps/agents:{__version__}" in line
    assert "kernel log from the journal in /var/log/journal (non-root)," in line
    assert "metrics on port 9808" in line
    assert "kubectl get nodes -L sagemaker.amazonaws.com/node-health-status" in line
