"""The NVIDIA, Neuron and EFA device plugins: where they run, what they
tolerate, their images, privileges and RBAC."""

from __future__ import annotations

from typing import Any

import pytest

from hyperpod_deps.chart.render import Manifest, RenderError
from hyperpod_deps.core.instance_types import efa_capable, of_family
from hyperpod_deps.core.wire import NODE_HEALTH_TOLERATION
from tests.support.charts import (
    Renderer,
    affinity_instance_types,
    named,
    of_kind,
    pod_spec,
)

NVIDIA = of_family("nvidia")
NEURON = of_family("neuron")
EFA = efa_capable()

NVIDIA_DS = "dependencies-nvidia-device-plugin"
NEURON_DS = "dependencies-neuron-device-plugin"
EFA_DS = "dependencies-aws-efa-k8s-device-plugin"

PLUGINS = {
    # chart: (DaemonSet, accelerator taint, default image)
    "nvidia-device-plugin": (
        NVIDIA_DS,
        "nvidia.com/gpu",
        "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
    ),
    "neuron-device-plugin": (
        NEURON_DS,
        "aws.amazon.com/neuron",
        "public.ecr.aws/neuron/neuron-device-plugin:2.22.4.0",
    ),
    "aws-efa-k8s-device-plugin": (
        EFA_DS,
        "aws.amazon.com/efa",
        "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.5",
    ),
}
DIGEST = "sha256:" + "ab" * 32


def container(objects: list[Manifest], daemonset: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(named(objects, "DaemonSet", daemonset))["containers"]
    assert len(containers) == 1
    return containers[0]


def host_paths(objects: list[Manifest], daemonset: str) -> dict[str, str]:
    volumes = pod_spec(named(objects, "DaemonSet", daemonset))["volumes"]
    return {v["hostPath"]["path"]: v["name"] for v in volumes if "hostPath" in v}


def env(objects: list[Manifest], daemonset: str) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container(objects, daemonset).get("env", [])}


def efa_terms(objects: list[Manifest]) -> list[dict[str, Any]]:
    terms: list[dict[str, Any]] = pod_spec(named(objects, "DaemonSet", EFA_DS))["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    return terms


# --- placement -----------------------------------------------------------------


def test_each_plugin_lands_on_exactly_its_family_from_the_source_of_truth(render: Renderer) -> None:
    objects = render()
    assert affinity_instance_types(named(objects, "DaemonSet", NVIDIA_DS)) == NVIDIA
    assert affinity_instance_types(named(objects, "DaemonSet", NEURON_DS)) == NEURON
    assert efa_terms(objects) == [
        {"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": EFA}]}
    ]
    assert "ml.c5n.18xlarge" in EFA, "CPU instance types with EFA come from the source too"


def test_a_global_extra_type_extends_and_an_override_replaces(render3: Renderer) -> None:
    objects = render3(
        "global.instanceTypes.nvidia={ml.p5.24xlarge}",
        "global.instanceTypes.neuron={ml.trn3.48xlarge}",
        "global.instanceTypes.efa={ml.p5.24xlarge}",
        "neuron-device-plugin.instanceTypes={ml.trn2.48xlarge}",
    )
    assert affinity_instance_types(named(objects, "DaemonSet", NVIDIA_DS)) == [*NVIDIA, "ml.p5.24xlarge"]
    assert affinity_instance_types(named(objects, "DaemonSet", NEURON_DS)) == [
        "ml.trn2.48xlarge",
        "ml.trn3.48xlarge",
    ]
    assert efa_terms(objects)[0]["matchExpressions"][0]["values"] == [*EFA, "ml.p5.24xlarge"]


def test_efa_given_label_values_are_used_exactly_one_term_per_key(render3: Renderer) -> None:
    objects = render3(
        "global.instanceTypes.efa={ml.p5.24xlarge}",
        "aws-efa-k8s-device-plugin.supportedInstanceLabels.keys={node.kubernetes.io/instance-type,beta.kubernetes.io/instance-type}",
        "aws-efa-k8s-device-plugin.supportedInstanceLabels.values={ml.p5.48xlarge,ml.trn2.48xlarge}",
    )
    terms = efa_terms(objects)
    assert [t["matchExpressions"][0]["key"] for t in terms] == [
        "node.kubernetes.io/instance-type",
        "beta.kubernetes.io/instance-type",
    ]
    for term in terms:
        assert term["matchExpressions"][0]["values"] == ["ml.p5.48xlarge", "ml.trn2.48xlarge"]


# --- tolerations and scheduling --------------------------------------------------


def test_plugins_tolerate_quarantine_their_accelerator_and_critical_addons(render: Renderer) -> None:
    objects = render()
    for daemonset, taint, _ in PLUGINS.values():
        spec = pod_spec(named(objects, "DaemonSet", daemonset))
        assert spec["tolerations"] == [
            NODE_HEALTH_TOLERATION,
            {"key": taint, "operator": "Exists", "effect": "NoSchedule"},
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
        ], daemonset
        assert spec["priorityClassName"] == "system-node-critical"
        workload = named(objects, "DaemonSet", daemonset)
        assert workload["spec"]["updateStrategy"]["type"] == "RollingUpdate"
        assert workload["metadata"]["namespace"] == "kube-system"


@pytest.mark.parametrize("chart", PLUGINS)
def test_extra_tolerations_are_added_after_the_built_in_ones(render3: Renderer, chart: str) -> None:
    daemonset = PLUGINS[chart][0]
    objects = render3(
        f"{chart}.tolerations[0].key=example.com/dedicated",
        f"{chart}.tolerations[0].operator=Exists",
    )
    tolerations = pod_spec(named(objects, "DaemonSet", daemonset))["tolerations"]
    assert tolerations[0] == NODE_HEALTH_TOLERATION
    assert tolerations[-1] == {"key": "example.com/dedicated", "operator": "Exists"}
    assert len(tolerations) == 4


# --- images ---------------------------------------------------------------------


def test_default_images_are_the_upstream_releases(render: Renderer) -> None:
    objects = render()
    for daemonset, _, image in PLUGINS.values():
        assert container(objects, daemonset)["image"] == image
        assert container(objects, daemonset)["imagePullPolicy"] == "IfNotPresent"


def test_global_image_registry_applies_to_every_plugin(render3: Renderer) -> None:
    objects = render3("global.imageRegistry=mirror.example.com/hp", "global.imagePullSecrets={regcred}")
    assert container(objects, NVIDIA_DS)["image"] == "mirror.example.com/hp/nvidia/k8s-device-plugin:v0.17.1"
    assert (
        container(objects, NEURON_DS)["image"] == "mirror.example.com/hp/neuron/neuron-device-plugin:2.22.4.0"
    )
    assert container(objects, EFA_DS)["image"] == "mirror.example.com/hp/eks/aws-efa-k8s-device-plugin:v0.5.5"
    for daemonset, _, _ in PLUGINS.values():
        assert pod_spec(named(objects, "DaemonSet", daemonset))["imagePullSecrets"] == [{"name": "regcred"}]


def test_a_plugin_registry_wins_over_the_global_one_and_a_digest_over_the_tag(render3: Renderer) -> None:
    objects = render3(
        "global.imageRegistry=mirror.example.com",
        "nvidia-device-plugin.image.registry=nvcr.example.com",
        "nvidia-device-plugin.image.tag=v0.17.0",
        f"neuron-device-plugin.image.digest={DIGEST}",
        "neuron-device-plugin.image.tag=2.23.30.0",
    )
    assert container(objects, NVIDIA_DS)["image"] == "nvcr.example.com/nvidia/k8s-device-plugin:v0.17.0"
    assert (
        container(objects, NEURON_DS)["image"] == f"mirror.example.com/neuron/neuron-device-plugin@{DIGEST}"
    )


# --- privileges -------------------------------------------------------------------


def test_plugins_run_with_no_capabilities_and_only_the_host_paths_they_need(render3: Renderer) -> None:
    objects = render3()
    for daemonset, _, _ in PLUGINS.values():
        security = container(objects, daemonset)["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["readOnlyRootFilesystem"] is True
        assert "privileged" not in security
        assert pod_spec(named(objects, "DaemonSet", daemonset))["securityContext"]["seccompProfile"] == {
            "type": "RuntimeDefault"
        }
        resources = container(objects, daemonset)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
    assert set(host_paths(objects, NVIDIA_DS)) == {"/var/lib/kubelet/device-plugins"}
    assert set(host_paths(objects, NEURON_DS)) == {"/var/lib/kubelet/device-plugins", "/run"}
    assert set(host_paths(objects, EFA_DS)) == {
        "/var/lib/kubelet/device-plugins",
        "/dev/infiniband",
        "/opt/aws/neuron",
    }
    # Only the Neuron plugin talks to the API server.
    assert pod_spec(named(objects, "DaemonSet", NVIDIA_DS))["automountServiceAccountToken"] is False
    assert pod_spec(named(objects, "DaemonSet", EFA_DS))["automountServiceAccountToken"] is False
    mounts = {m["mountPath"]: m for m in container(objects, EFA_DS)["volumeMounts"]}
    assert mounts["/dev/infiniband"]["readOnly"] is True


def test_nvidia_settings_reach_the_plugin_environment(render3: Renderer) -> None:
    assert env(render3(), NVIDIA_DS) == {
        "FAIL_ON_INIT_ERROR": "true",
        "DEVICE_LIST_STRATEGY": "envvar",
        "DEVICE_ID_STRATEGY": "uuid",
        "MIG_STRATEGY": "none",
        "PASS_DEVICE_SPECS": "false",
    }
    tuned = env(
        render3(
            "nvidia-device-plugin.config.migStrategy=mixed",
            "nvidia-device-plugin.config.failOnInitError=false",
            "nvidia-device-plugin.config.deviceListStrategy=volume-mounts",
        ),
        NVIDIA_DS,
    )
    assert (tuned["MIG_STRATEGY"], tuned["FAIL_ON_INIT_ERROR"], tuned["DEVICE_LIST_STRATEGY"]) == (
        "mixed",
        "false",
        "volume-mounts",
    )


# --- Neuron RBAC ------------------------------------------------------------------


def test_neuron_plugin_account_is_fixed_and_bound_in_the_release_namespace(render: Renderer) -> None:
    objects = render(namespace="accelerators")
    account = named(objects, "ServiceAccount", "neuron-device-plugin")
    assert account["metadata"]["namespace"] == "accelerators"
    assert pod_spec(named(objects, "DaemonSet", NEURON_DS))["serviceAccountName"] == "neuron-device-plugin"
    role = named(objects, "ClusterRole", NEURON_DS)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch", "update"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch", "update"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    binding = named(objects, "ClusterRoleBinding", NEURON_DS)
    assert binding["roleRef"]["name"] == NEURON_DS
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "neuron-device-plugin", "namespace": "accelerators"}
    ]


def test_only_the_neuron_plugin_has_rbac(render3: Renderer) -> None:
    names = {o["metadata"]["name"] for o in of_kind(render3(), "ClusterRole")}
    assert NEURON_DS in names
    assert NVIDIA_DS not in names and EFA_DS not in names


# --- switches and schema ------------------------------------------------------------


@pytest.mark.parametrize("chart", PLUGINS)
def test_turning_a_plugin_off_removes_its_objects(render3: Renderer, chart: str) -> None:
    objects = render3(f"{chart}.devicePlugin.enabled=false")
    names = {o["metadata"]["name"] for o in objects}
    assert PLUGINS[chart][0] not in names
    if chart == "neuron-device-plugin":
        assert "neuron-device-plugin" not in names


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("nvidia-device-plugin.devicePlugin.enabeld=true", "enabeld"),
        ("nvidia-device-plugin.config.migStrategy=half", "migStrategy"),
        # CDI needs host mounts the chart does not add: refused rather than broken.
        ("nvidia-device-plugin.config.deviceListStrategy=cdi-cri", "deviceListStrategy"),
        ("nvidia-device-plugin.instanceTypes={ML.P5}", "instanceTypes"),
        ("neuron-device-plugin.image.tga=2.22.4.0", "tga"),
        ("neuron-device-plugin.image.digest=sha256:short", "digest"),
        ("aws-efa-k8s-device-plugin.supportedInstanceLabels.value={ml.p5.48xlarge}", "value"),
        ("aws-efa-k8s-device-plugin.tolerations[0].efect=NoSchedule", "efect"),
    ],
)
def test_schema_rejects_typos(render3: Renderer, assignment: str, complaint: str) -> None:
    with pytest.raises(RenderError, match=complaint):
        render3(assignment)
