"""gpu-operator and cert-manager: prerequisites the chart does not embed.

gpu-operator renders the MIG partition ConfigMap HyperPod reads (name, label, namespace,
a valid mig-parted config with the profiles of every listed GPU) and the command that
installs NVIDIA's operator with SageMaker HyperPod's settings; cert-manager renders nothing
under `helm template` and names its install command in the notes. Upstream's keys are
accepted, typos fail.
"""
from __future__ import annotations

import json
import shlex
import subprocess
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.chart.requirements import (
    INSTALL_COMMAND_ANNOTATION,
    REQUIRES_CRD_ANNOTATION,
    cert_manager_install_command,
    effective_section,
    rendered_requirements,
)
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART, SUBCHARTS, Renderer, named, of_kind
from tests.support.upstream import UPSTREAM_CHART as UPSTREAM
from tests.support.upstream import requires_upstream

ON = "gpu-operator.enabled=true"
PARTITION_LABEL = "sagemaker.amazonaws.com/accelerator-partition-configmap"
# Upstream's chart, where this checkout sits next to it (data for the superset test).
GPU_VALUES = yaml.safe_load((SUBCHARTS / "gpu-operator/values.yaml").read_text())
# NVIDIA's MIG geometry on a 7-slice GPU: instances of each size that fit alone.
FIT = {"1g": 7, "2g": 3, "3g": 2, "4g": 1, "7g": 1}


def mig_config_map(objects: list[Manifest], name: str = "default-mig-config") -> Manifest:
    return named(objects, "ConfigMap", name)


def mig_configs(objects: list[Manifest]) -> dict[str, Any]:
    config = yaml.safe_load(mig_config_map(objects)["data"]["config.yaml"])
    assert config["version"] == "v1"
    configs: dict[str, Any] = config["mig-configs"]
    return configs


def install_values(command: str) -> dict[str, Any]:
    """The NVIDIA chart values the printed command passes (its --set-json arguments)."""
    words = shlex.split(command)
    values = {}
    for flag, argument in pairwise(words):
        if flag == "--set-json":
            key, _, raw = argument.partition("=")
            values[key] = json.loads(raw)
    return values


def command_of(objects: list[Manifest], name: str = "default-mig-config") -> str:
    return str(mig_config_map(objects, name)["metadata"]["annotations"][INSTALL_COMMAND_ANNOTATION])


def notes(*set_values: str) -> str:
    args = [str(helm_path(4)), "install", "dependencies", str(CHART), "--namespace", "kube-system",
            "--dry-run=client"]
    for assignment in set_values:
        args += ["--set", assignment]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    return result.stdout.split("NOTES:", 1)[1]


# --- the MIG ConfigMap -------------------------------------------------------------------


def test_off_by_default(default_render: tuple[Manifest, ...]) -> None:
    assert not [o for o in default_render if (o["metadata"].get("labels") or {}).get(PARTITION_LABEL)]
    assert not [o for o in default_render if "gpu-operator" in json.dumps(o["metadata"].get("labels") or {})]


def test_mig_config_map_is_where_hyperpod_looks(render: Renderer) -> None:
    config_map = mig_config_map(render(ON))
    assert config_map["metadata"]["namespace"] == "kube-system"
    assert config_map["metadata"]["labels"][PARTITION_LABEL] == "true"
    assert config_map["metadata"]["annotations"][REQUIRES_CRD_ANNOTATION] == "clusterpolicies.nvidia.com"
    assert list(config_map["data"]) == ["config.yaml"]


def test_every_config_is_a_valid_mig_parted_entry(render: Renderer) -> None:
    configs = mig_configs(render(ON))
    assert configs.pop("all-disabled") == [{"devices": "all", "mig-enabled": False}]
    for name, entries in configs.items():
        assert len(entries) == 1, name
        entry = entries[0]
        assert set(entry) == {"devices", "mig-enabled", "mig-devices"}, name
        assert entry["devices"] == "all" and entry["mig-enabled"] is True, name
        devices = entry["mig-devices"]
        slices = sum(int(profile.split("g.")[0]) * count for profile, count in devices.items())
        assert all(isinstance(count, int) and count > 0 for count in devices.values()), name
        assert slices <= 7 or set(devices) == {"1g.67gb"}, f"{name} needs {slices} compute slices"
        expected = "all-" + next(iter(devices)) if len(devices) == 1 else "mixed-" + "-".join(
            f"{count}-{profile}" for profile, count in sorted(devices.items(), key=lambda kv: kv[0]))
        assert name == expected, devices


@pytest.mark.parametrize("gpu", GPU_VALUES["migConfig"]["gpus"], ids=lambda gpu: gpu["name"])
def test_every_listed_gpu_gets_its_profiles(render: Renderer, gpu: dict[str, Any]) -> None:
    configs = mig_configs(render(ON))
    profiles = gpu["profiles"]
    for size, profile in profiles.items():
        assert configs[f"all-{profile}"][0]["mig-devices"] == {profile: FIT[size]}
    one, two, three, four = (profiles[size] for size in ("1g", "2g", "3g", "4g"))
    assert configs[f"mixed-1-{three}-1-{four}"][0]["mig-devices"] == {three: 1, four: 1}
    assert configs[f"mixed-1-{one}-1-{two}-1-{four}"][0]["mig-devices"] == {one: 1, two: 1, four: 1}
    assert configs[f"mixed-5-{one}-1-{two}"][0]["mig-devices"] == {one: 5, two: 1}
    mixed = [name for name, entries in configs.items()
             if name.startswith("mixed-") and set(entries[0]["mig-devices"]) <= set(profiles.values())]
    assert len(mixed) == 11, mixed


def test_known_profiles_have_nvidias_sizes(render: Renderer) -> None:
    configs = mig_configs(render(ON))
    # A100 40GB, H100 80GB, H200 141GB, B300 (whose 1g.67gb takes two memory slices: 4 fit).
    assert configs["all-1g.5gb"][0]["mig-devices"] == {"1g.5gb": 7}
    assert configs["all-7g.80gb"][0]["mig-devices"] == {"7g.80gb": 1}
    assert configs["mixed-2-1g.18gb-1-2g.35gb-1-3g.71gb"][0]["mig-devices"] == {
        "1g.18gb": 2, "2g.35gb": 1, "3g.71gb": 1}
    assert configs["all-1g.67gb"][0]["mig-devices"] == {"1g.67gb": 4}
    assert len(configs) == 1 + 4 * (5 + 11) + 1


@requires_upstream
def test_a_superset_of_upstreams_profiles(render: Renderer) -> None:
    upstream = yaml.safe_load((UPSTREAM / "charts/gpu-operator/config/default-mig-config.yaml").read_text())
    ours = mig_configs(render(ON))
    missing = sorted(set(upstream["mig-configs"]) - set(ours))
    assert not missing, missing
    assert {name: ours[name] for name in upstream["mig-configs"]} == upstream["mig-configs"]


def test_users_add_gpus_and_configs(render: Renderer, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"gpu-operator": {"enabled": True, "migConfig": {
        "gpus": [{"name": "B200", "profiles": {"1g": "1g.23gb", "2g": "2g.45gb", "3g": "3g.90gb",
                                               "4g": "4g.90gb", "7g": "7g.180gb"}}],
        "extraConfigs": {"half": [{"devices": [0, 1], "mig-enabled": True, "mig-devices": {"1g.23gb": 7}}]},
    }}}))
    configs = mig_configs(render(values_files=[values]))
    assert configs["all-7g.180gb"][0]["mig-devices"] == {"7g.180gb": 1}
    assert configs["half"][0]["devices"] == [0, 1]
    assert "all-1g.10gb" not in configs  # the list replaces the built-in one


def test_name_and_namespace_follow_the_values(render: Renderer) -> None:
    objects = render(ON, "gpu-operator.migConfig.namespace=gpu-operator",
                     "gpu-operator.gpu-operator.migManager.config.name=hyperpod-mig")
    config_map = mig_config_map(objects, "hyperpod-mig")
    assert config_map["metadata"]["namespace"] == "gpu-operator"
    command = command_of(objects, "hyperpod-mig")
    assert "--namespace gpu-operator" in command
    assert install_values(command)["migManager"]["config"] == {"create": False, "name": "hyperpod-mig"}


def test_config_create_false_leaves_the_config_map_to_the_user(render: Renderer) -> None:
    objects = render(ON, "gpu-operator.gpu-operator.migManager.config.create=false")
    labelled = [o for o in of_kind(objects, "ConfigMap")
                if PARTITION_LABEL in (o["metadata"].get("labels") or {})]
    assert not labelled
    assert mig_configs(render(ON))  # and with it left on, the ConfigMap is there


# --- the install command for NVIDIA's operator --------------------------------------------


def test_install_command_pins_nvidias_chart_and_hyperpods_settings(render: Renderer) -> None:
    command = command_of(render(ON))
    assert command.startswith("helm install gpu-operator gpu-operator --repo https://helm.ngc.nvidia.com/nvidia"
                              " --version v26.3.1 --namespace kube-system --set-json ")
    values = install_values(command)
    assert "enabled" not in values
    assert values["mig"] == {"strategy": "mixed"}
    assert values["driver"] == {"enabled": False}
    assert values["migManager"]["config"] == {"create": False, "name": "default-mig-config"}
    assert values["migManager"]["env"] == [{"name": "WITH_REBOOT", "value": "true"}]
    registry = "463470961310.dkr.ecr.us-east-1.amazonaws.com"  # us-east-1 when global.region is empty
    assert values["operator"]["repository"] == registry
    assert values["toolkit"]["repository"] == f"{registry}/mirror-k8s"
    assert values["validator"]["repository"] == f"{registry}/mirror-cloud-native"
    assert values["operator"]["image"] == "mirror-gpu-operator"


@requires_upstream
@pytest.mark.parametrize("region", ["eu-west-1", "ca-central-1", "ap-southeast-4"])
def test_regional_registries_match_upstreams_regional_values(render: Renderer, region: str) -> None:
    upstream = yaml.safe_load((UPSTREAM / f"regional-values/values-{region}.yaml").read_text())
    expected = upstream["gpu-operator"]["gpu-operator"]
    # (the health agent, whose regions differ, is off: this is about the operator's images)
    objects = render(ON, f"global.region={region}", "health-monitoring-agent.enabled=false")
    values = install_values(command_of(objects))
    for section, settings in expected.items():
        assert values[section]["repository"] == settings["repository"], section


@requires_upstream
def test_upstreams_regional_values_file_is_accepted_and_wins(render: Renderer) -> None:
    regional = UPSTREAM / "regional-values/values-us-west-2.yaml"
    values = install_values(command_of(render(ON, "global.region=eu-west-1", values_files=[regional])))
    assert values["gfd"]["repository"] == "586794468202.dkr.ecr.us-west-2.amazonaws.com"


def test_an_unknown_region_fails_with_the_known_ones(render: Renderer) -> None:
    with pytest.raises(RenderError, match=r"no mirror of NVIDIA's GPU operator images is known for region "
                                          r"xx-east-9 .*us-west-2\. Set --set global.region="):
        render(ON, "global.region=xx-east-9", "health-monitoring-agent.region=us-east-1")


def test_without_nvidias_operator_nothing_is_required(render: Renderer) -> None:
    objects = render(ON, "gpu-operator.gpu-operator.enabled=false")
    assert mig_config_map(objects)["metadata"].get("annotations") is None
    assert not rendered_requirements(objects)


def test_preflight_reads_the_requirement_from_the_render(render: Renderer) -> None:
    objects = render(ON)
    [requirement] = rendered_requirements(objects)
    assert requirement.component == "gpu-operator"
    assert requirement.crd == "clusterpolicies.nvidia.com"
    assert requirement.install_command == command_of(objects)


def test_notes_print_the_install_command() -> None:
    text = notes(ON)
    assert "gpu-operator: ConfigMap kube-system/default-mig-config" in text
    assert "helm install gpu-operator gpu-operator --repo https://helm.ngc.nvidia.com/nvidia" in text
    assert "--set nvidia-device-plugin.devicePlugin.enabled=false" in text


# --- cert-manager --------------------------------------------------------------------------


def test_cert_manager_renders_nothing_without_a_cluster(render: Renderer) -> None:
    assert render("cert-manager.enabled=true") == render()


def test_cert_manager_notes_and_preflight_give_the_same_command() -> None:
    sets = ("cert-manager.enabled=true", "cert-manager.namespace=certs",
            "cert-manager.global.leaderElection.namespace=kube-system")
    expected = cert_manager_install_command(effective_section(CHART, "cert-manager", (), sets))
    assert expected == ("helm install cert-manager oci://quay.io/jetstack/charts/cert-manager "
                        "--version v1.18.2 --namespace certs --create-namespace --set crds.enabled=true "
                        "--set global.leaderElection.namespace=kube-system")
    assert expected in notes(*sets)


# --- keys ---------------------------------------------------------------------------------


UPSTREAM_KEYS = {
    # gpu-operator: the umbrella's switch, and what upstream's subchart passes NVIDIA's chart.
    "gpu-operator": {"enabled": True, "gpu-operator": {
        "enabled": True,
        "operator": {"image": "i", "version": "v", "repository": "r", "tolerations": [{"operator": "Exists"}],
                     "initContainer": {"enabled": False}},
        "mig": {"strategy": "mixed"}, "driver": {"enabled": False}, "manager": {"enabled": False},
        "toolkit": {"image": "i", "version": "v", "repository": "r"},
        "devicePlugin": {"enabled": True, "image": "i", "version": "v", "repository": "r"},
        "dcgm": {"enabled": False}, "dcgmExporter": {"enabled": False},
        "gfd": {"image": "i", "version": "v", "repository": "r"},
        "migManager": {"image": "i", "version": "v", "repository": "r",
                       "config": {"create": True, "name": "default-mig-config"},
                       "env": [{"name": "WITH_REBOOT", "value": "true"}]},
        "validator": {"image": "i", "version": "v", "repository": "r"},
        "vgpuDeviceManager": {"enabled": False}, "vfioManager": {"enabled": False},
        "sandboxDevicePlugin": {"enabled": False},
        "node-feature-discovery": {part: {"tolerations": [{"operator": "Exists"}]}
                                   for part in ("master", "worker", "gc")},
        "daemonsets": {"tolerations": [{"operator": "Exists"}]},
    }},
    "cert-manager": {"enabled": True, "namespace": "cert-manager",
                     "global": {"leaderElection": {"namespace": "cert-manager"}}, "crds": {"enabled": True}},
}


def test_every_upstream_key_is_accepted(render: Renderer, tmp_path: Path) -> None:
    values = tmp_path / "upstream.yaml"
    values.write_text(yaml.safe_dump(UPSTREAM_KEYS))
    objects = render(values_files=[values])
    command = install_values(command_of(objects))
    assert command["gfd"]["repository"] == "r"  # the user's repository wins over the regional one


@pytest.mark.parametrize(("assignment", "typo"), [
    ("gpu-operator.gpu-operater.enabled=true", "gpu-operater"),
    ("gpu-operator.gpu-operator.migManger.image=x", "migManger"),
    ("gpu-operator.migConfig.gpu=x", "gpu"),
    ("cert-manager.crd.enabled=true", "crd"),
    ("cert-manager.global.leaderElection.namepsace=x", "namepsace"),
])
def test_typos_fail(render: Renderer, assignment: str, typo: str) -> None:
    component = assignment.split(".")[0]
    # helm 3 and helm 4 word the schema error differently
    with pytest.raises(RenderError, match=rf"Additional property {typo} is not allowed|"
                                          rf"additional properties '{typo}' not allowed"):
        render(f"{component}.enabled=true", assignment)
