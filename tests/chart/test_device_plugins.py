"""The NVIDIA, Neuron and EFA device plugins: where they run, what they
tolerate, their images, privileges and RBAC."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.instance_types import efa_capable, of_family
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.wire import NODE_HEALTH_TOLERATION
from tests.chart.test_roles import install_notes
from tests.support.charts import (
    ROOT,
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
NEURON_DS = "neuron-device-plugin-daemonset"
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
# EKS Auto Mode nodes run their own EFA plugin; the EKS chart leaves them out too.
NOT_AUTO_MODE = {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["auto"]}


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
        {
            "matchExpressions": [
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": EFA},
                NOT_AUTO_MODE,
            ]
        }
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
    assert set(host_paths(objects, NEURON_DS)) == {"/var/lib/kubelet/device-plugins", "/run/infa-map.json"}
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


def test_no_plugin_can_reach_the_container_runtime_socket(render3: Renderer) -> None:
    """A plugin that could open the runtime's socket (/run/containerd/containerd.sock, or the
    docker or CRI-O ones, all under /run) would own its node: no host path may hold one."""
    objects = render3()
    sockets = ("/run/containerd/containerd.sock", "/run/docker.sock", "/run/crio/crio.sock")
    for daemonset, _, _ in PLUGINS.values():
        for path in host_paths(objects, daemonset):
            for socket in sockets:
                assert not (socket + "/").startswith(path.rstrip("/") + "/"), f"{daemonset} mounts {path}"


def test_the_neuron_plugin_reads_its_infrastructure_map_read_only(render3: Renderer) -> None:
    objects = render3()
    spec = pod_spec(named(objects, "DaemonSet", NEURON_DS))
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container(objects, NEURON_DS)["volumeMounts"]}
    mount = mounts["/run/infa-map.json"]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["hostPath"] == {"path": "/run/infa-map.json", "type": "File"}
    # The kubelet's device-plugins directory is the one place it writes (its socket).
    writable = {path for path, m in mounts.items() if not m.get("readOnly")}
    assert writable == {"/var/lib/kubelet/device-plugins"}


def test_the_neuron_plugin_cannot_replace_pods_or_node_status(render3: Renderer) -> None:
    """`update` replaces a whole object (a pod's image included); AWS documents get/patch only."""
    role = named(render3(), "ClusterRole", "neuron-device-plugin")
    verbs = {resource: set(rule["verbs"]) for rule in role["rules"] for resource in rule["resources"]}
    assert "update" not in verbs["pods"] | verbs["nodes/status"]
    assert verbs["pods"] == {"get", "list", "watch", "patch"}


# --- Neuron RBAC ------------------------------------------------------------------


def test_neuron_plugin_account_is_fixed_and_bound_in_the_release_namespace(render: Renderer) -> None:
    objects = render(namespace="accelerators")
    account = named(objects, "ServiceAccount", "neuron-device-plugin")
    assert account["metadata"]["namespace"] == "accelerators"
    assert pod_spec(named(objects, "DaemonSet", NEURON_DS))["serviceAccountName"] == "neuron-device-plugin"
    role = named(objects, "ClusterRole", "neuron-device-plugin")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    ]
    binding = named(objects, "ClusterRoleBinding", "neuron-device-plugin")
    assert binding["roleRef"]["name"] == "neuron-device-plugin"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "neuron-device-plugin", "namespace": "accelerators"}
    ]


def test_only_the_neuron_plugin_has_rbac(render3: Renderer) -> None:
    names = {o["metadata"]["name"] for o in of_kind(render3(), "ClusterRole")}
    assert "neuron-device-plugin" in names
    assert not [n for n in names if "nvidia" in n or "efa" in n]


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


# --- the upstream HyperPod chart's contract ------------------------------------------
# Upstream's nvidia and EFA subcharts are NVIDIA's and the EKS charts; their
# values keys are what users already write. Facts are taken from rendering the
# upstream chart itself (/work/shared/upstream, see its PROVENANCE.md), not
# restated here; without it these tests skip.

UPSTREAM_CHART = ROOT.parent / "shared/upstream/hyperpod-helm-chart"


def upstream_chart() -> Path:
    if not (UPSTREAM_CHART / "Chart.yaml").is_file():
        pytest.skip(f"the upstream chart is not at {UPSTREAM_CHART}")
    return UPSTREAM_CHART


def upstream_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((upstream_chart() / "values.yaml").read_text())
    return values


def upstream_values_file(*keys: str) -> Path:
    """Upstream's umbrella values, only the given top-level keys, as a file."""
    subset = {key: upstream_values()[key] for key in keys}
    path = Path(tempfile.gettempdir()) / f"hyperpod-upstream-{'-'.join(keys)}-values.yaml"
    path.write_text(yaml.safe_dump(subset))
    return path


def upstream_objects(render: Renderer, *set_values: str) -> list[Manifest]:
    return render(*set_values, chart=upstream_chart())


def ident(obj: Manifest) -> tuple[str, str | None, str]:
    return (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])


UPSTREAM_PLUGIN_DAEMONSETS = (NVIDIA_DS, EFA_DS, NEURON_DS)


def test_plugin_daemonsets_keep_upstreams_name_namespace_and_selector(render3: Renderer) -> None:
    """`helm upgrade` over an upstream release updates these DaemonSets in place:
    a selector cannot change, so ours must equal upstream's exactly."""
    upstream = {d["metadata"]["name"]: d for d in of_kind(upstream_objects(render3), "DaemonSet")}
    ours = render3()
    for name in UPSTREAM_PLUGIN_DAEMONSETS:
        theirs = upstream[name]
        mine = named(ours, "DaemonSet", name)
        # Upstream leaves the EFA DaemonSet's namespace to Helm: the release's.
        assert mine["metadata"]["namespace"] == (theirs["metadata"].get("namespace") or "kube-system")
        assert mine["spec"]["selector"] == theirs["spec"]["selector"], name
        pod_labels = mine["spec"]["template"]["metadata"]["labels"]
        assert theirs["spec"]["selector"]["matchLabels"].items() <= pod_labels.items(), name


def test_neuron_rbac_objects_keep_upstreams_names(render3: Renderer) -> None:
    upstream = {ident(o) for o in upstream_objects(render3) if o["metadata"]["name"].startswith("neuron-")}
    ours = {ident(o) for o in render3() if o["metadata"]["name"].startswith("neuron-")}
    # Upstream sets a namespace on its ClusterRoleBinding, which Kubernetes ignores.
    normalise = {(k, None if k.startswith("Cluster") else ns, n) for k, ns, n in upstream}
    assert normalise == ours
    assert ("ServiceAccount", "kube-system", "neuron-device-plugin") in ours


def test_upstream_plugin_values_render_with_their_meaning(render3: Renderer) -> None:
    values = upstream_values()
    objects = render3(
        values_files=[
            upstream_values_file("nvidia-device-plugin", "aws-efa-k8s-device-plugin", "neuron-device-plugin")
        ]
    )
    nvidia = named(objects, "DaemonSet", NVIDIA_DS)
    assert nvidia["metadata"]["namespace"] == values["nvidia-device-plugin"]["namespaceOverride"]
    assert pod_spec(nvidia)["affinity"] == values["nvidia-device-plugin"]["affinity"]
    for toleration in values["nvidia-device-plugin"]["tolerations"]:
        assert toleration in pod_spec(nvidia)["tolerations"]
    efa = values["aws-efa-k8s-device-plugin"]
    assert [t["matchExpressions"][0]["values"] for t in efa_terms(objects)] == [
        efa["supportedInstanceLabels"]["values"]
    ]
    for toleration in efa["tolerations"]:
        assert toleration in pod_spec(named(objects, "DaemonSet", EFA_DS))["tolerations"]


def test_nvidia_affinity_when_given_replaces_the_instance_type_affinity(render3: Renderer) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "example.com/gpu", "operator": "In", "values": ["yes"]}]}
                ]
            }
        }
    }
    objects = render3(
        "global.instanceTypes.nvidia={ml.p5.24xlarge}",
        "nvidia-device-plugin.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].key=example.com/gpu",
        "nvidia-device-plugin.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].operator=In",
        "nvidia-device-plugin.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].values={yes}",
    )
    assert pod_spec(named(objects, "DaemonSet", NVIDIA_DS))["affinity"] == affinity
    # Other plugins keep theirs.
    assert affinity_instance_types(named(objects, "DaemonSet", NEURON_DS)) == NEURON


def test_nvidia_namespace_override_moves_every_object_of_the_plugin(render3: Renderer) -> None:
    objects = render3(
        "nvidia-device-plugin.namespaceOverride=gpu-plugins",
        "nvidia-device-plugin.config.map.default=version: v1",
    )
    assert named(objects, "DaemonSet", NVIDIA_DS)["metadata"]["namespace"] == "gpu-plugins"
    assert named(objects, "ConfigMap", f"{NVIDIA_DS}-configs")["metadata"]["namespace"] == "gpu-plugins"
    assert named(objects, "DaemonSet", EFA_DS)["metadata"]["namespace"] == "kube-system"


def test_nvidia_allow_default_namespace(render3: Renderer) -> None:
    assert named(render3(namespace="default"), "DaemonSet", NVIDIA_DS)["metadata"]["namespace"] == "default"
    with pytest.raises(RenderError, match="allowDefaultNamespace=false"):
        render3("nvidia-device-plugin.allowDefaultNamespace=false", namespace="default")
    with pytest.raises(RenderError, match="allowDefaultNamespace=false"):
        render3(
            "nvidia-device-plugin.allowDefaultNamespace=false",
            "nvidia-device-plugin.namespaceOverride=default",
        )
    objects = render3("nvidia-device-plugin.allowDefaultNamespace=false")
    assert named(objects, "DaemonSet", NVIDIA_DS)["metadata"]["namespace"] == "kube-system"


@pytest.mark.parametrize("chart", PLUGINS)
def test_a_restated_built_in_toleration_is_kept_once(render3: Renderer, chart: str) -> None:
    """Upstream's lists restate the built-in tolerations: they stay, once each."""
    daemonset, taint, _ = PLUGINS[chart]
    objects = render3(
        f"{chart}.tolerations[0].key={taint}",
        f"{chart}.tolerations[0].operator=Exists",
        f"{chart}.tolerations[0].effect=NoSchedule",
    )
    tolerations = pod_spec(named(objects, "DaemonSet", daemonset))["tolerations"]
    assert tolerations == [
        NODE_HEALTH_TOLERATION,
        {"key": taint, "operator": "Exists", "effect": "NoSchedule"},
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
    ]


def test_nvidia_selector_labels_override_sets_selector_and_pod_labels(render3: Renderer) -> None:
    workload = named(
        render3("nvidia-device-plugin.selectorLabelsOverride.app=gpu-plugin"), "DaemonSet", NVIDIA_DS
    )
    assert workload["spec"]["selector"] == {"matchLabels": {"app": "gpu-plugin"}}
    assert workload["spec"]["template"]["metadata"]["labels"]["app"] == "gpu-plugin"


def test_nvidia_chart_top_level_settings_win_over_config(render3: Renderer) -> None:
    objects = render3(
        "nvidia-device-plugin.migStrategy=single",
        "nvidia-device-plugin.failOnInitError=false",
        "nvidia-device-plugin.deviceListStrategy=volume-mounts",
        "nvidia-device-plugin.deviceIDStrategy=index",
        "nvidia-device-plugin.compatWithCPUManager=true",
        "nvidia-device-plugin.nvidiaDriverRoot=/run/nvidia/driver",
        "nvidia-device-plugin.gdsEnabled=true",
        "nvidia-device-plugin.mofedEnabled=false",
        "nvidia-device-plugin.deviceDiscoveryStrategy=nvml",
        "nvidia-device-plugin.cdi.nvidiaHookPath=/usr/bin/nvidia-cdi-hook",
    )
    assert env(objects, NVIDIA_DS) == {
        "FAIL_ON_INIT_ERROR": "false",
        "DEVICE_LIST_STRATEGY": "volume-mounts",
        "DEVICE_ID_STRATEGY": "index",
        "MIG_STRATEGY": "single",
        "PASS_DEVICE_SPECS": "true",
        "NVIDIA_DRIVER_ROOT": "/run/nvidia/driver",
        "GDS_ENABLED": "true",
        "MOFED_ENABLED": "false",
        "DEVICE_DISCOVERY_STRATEGY": "nvml",
        "NVIDIA_CDI_HOOK_PATH": "/usr/bin/nvidia-cdi-hook",
    }
    assert host_paths(objects, NVIDIA_DS)["/run/nvidia/driver"] == "driver-root"
    mounts = {m["mountPath"]: m for m in container(objects, NVIDIA_DS)["volumeMounts"]}
    assert mounts["/driver-root"]["readOnly"] is True


def test_nvidia_embedded_config_is_mounted_as_the_plugin_config_file(render3: Renderer) -> None:
    objects = render3(
        "nvidia-device-plugin.config.map.time-sliced=version: v1",
        "nvidia-device-plugin.config.map.plain=version: v1",
        "nvidia-device-plugin.config.default=time-sliced",
    )
    configmap = named(objects, "ConfigMap", f"{NVIDIA_DS}-configs")
    assert configmap["data"] == {"time-sliced": "version: v1", "plain": "version: v1"}
    spec = pod_spec(named(objects, "DaemonSet", NVIDIA_DS))
    volume = next(v for v in spec["volumes"] if v["name"] == "config")
    assert volume["configMap"] == {
        "name": f"{NVIDIA_DS}-configs",
        "items": [{"key": "time-sliced", "path": "config.yaml"}],
    }
    assert env(objects, NVIDIA_DS)["CONFIG_FILE"] == "/config/config.yaml"
    annotations = named(objects, "DaemonSet", NVIDIA_DS)["spec"]["template"]["metadata"]["annotations"]
    changed = render3(
        "nvidia-device-plugin.config.map.time-sliced=version: v2",
        "nvidia-device-plugin.config.map.plain=version: v1",
        "nvidia-device-plugin.config.default=time-sliced",
    )
    after = named(changed, "DaemonSet", NVIDIA_DS)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/config"] != after["checksum/config"], "a new config restarts the plugin"
    assert "CONFIG_FILE" not in env(render3(), NVIDIA_DS)


def test_nvidia_config_fallbacks_and_external_configmap(render3: Renderer) -> None:
    single = render3("nvidia-device-plugin.config.map.only=version: v1")
    volume = next(
        v for v in pod_spec(named(single, "DaemonSet", NVIDIA_DS))["volumes"] if v["name"] == "config"
    )
    assert volume["configMap"]["items"] == [{"key": "only", "path": "config.yaml"}]
    external = render3("nvidia-device-plugin.config.name=site-gpu-config")
    volume = next(
        v for v in pod_spec(named(external, "DaemonSet", NVIDIA_DS))["volumes"] if v["name"] == "config"
    )
    assert volume["configMap"] == {
        "name": "site-gpu-config",
        "items": [{"key": "default", "path": "config.yaml"}],
    }
    assert not [c for c in of_kind(external, "ConfigMap") if "nvidia" in c["metadata"]["name"]]


@pytest.mark.parametrize(
    ("assignments", "complaint"),
    [
        (("nvidia-device-plugin.config.name=x", "nvidia-device-plugin.config.map.a=version: v1"), "not both"),
        (
            (
                "nvidia-device-plugin.config.map.a=version: v1",
                "nvidia-device-plugin.config.map.b=version: v1",
            ),
            "config.default",
        ),
        (
            ("nvidia-device-plugin.config.map.a=version: v1", "nvidia-device-plugin.config.default=b"),
            "not an entry",
        ),
        (("nvidia-device-plugin.config.map.default=sharing: {mps: {resources: []}}",), "MPS"),
    ],
)
def test_nvidia_config_mistakes_fail_with_the_fix(
    render3: Renderer, assignments: tuple[str, ...], complaint: str
) -> None:
    with pytest.raises(RenderError, match=complaint):
        render3(*assignments)


def test_nvidia_pod_settings_of_nvidias_chart(render3: Renderer) -> None:
    objects = render3(
        "nvidia-device-plugin.priorityClassName=gpu-critical",
        "nvidia-device-plugin.runtimeClassName=nvidia",
        "nvidia-device-plugin.podAnnotations.team=ml",
        "nvidia-device-plugin.nodeSelector.example\\.com/gpu=yes",
        "nvidia-device-plugin.podSecurityContext.runAsUser=0",
        "nvidia-device-plugin.securityContext.privileged=true",
    )
    workload = named(objects, "DaemonSet", NVIDIA_DS)
    spec = pod_spec(workload)
    assert spec["priorityClassName"] == "gpu-critical"
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["nodeSelector"] == {"example.com/gpu": "yes"}
    assert spec["securityContext"] == {"runAsUser": 0}
    assert container(objects, NVIDIA_DS)["securityContext"] == {"privileged": True}
    assert workload["spec"]["template"]["metadata"]["annotations"] == {"team": "ml"}


def test_a_repository_that_names_its_registry_is_kept_as_it_is(render3: Renderer) -> None:
    objects = render3(
        "global.imageRegistry=mirror.example.com",
        "nvidia-device-plugin.image.repository=nvcr.io/nvidia/k8s-device-plugin",
        "nvidia-device-plugin.image.tag=v0.16.1",
        "aws-efa-k8s-device-plugin.image.repository=602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin",
        f"aws-efa-k8s-device-plugin.image.digest={DIGEST}",
    )
    assert container(objects, NVIDIA_DS)["image"] == "nvcr.io/nvidia/k8s-device-plugin:v0.16.1"
    assert (
        container(objects, EFA_DS)["image"]
        == f"602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin@{DIGEST}"
    )


def test_nvidia_parts_not_run_are_accepted_and_named_in_the_notes() -> None:
    plain = install_notes()
    assert "ignored" not in plain.split("nvidia-device-plugin:", 1)[1].split("\n  training", 1)[0]
    notes = install_notes(
        "nvidia-device-plugin.gfd.enabled=true",
        "nvidia-device-plugin.nfd.master.serviceAccount.create=true",
        "nvidia-device-plugin.mps.root=/run/nvidia/mps",
    )
    for key in ("nvidia-device-plugin.gfd", "nvidia-device-plugin.nfd", "nvidia-device-plugin.mps"):
        assert key in notes


def test_no_mps_control_daemon_is_rendered(render3: Renderer) -> None:
    """Upstream renders <release>-nvidia-device-plugin-mps-control-daemon, which only
    schedules on nodes labelled nvidia.com/mps.capable=true (set from an MPS
    sharing config, refused above); docs/upstream-plugins.md says why it is left out."""
    upstream = {d["metadata"]["name"] for d in of_kind(upstream_objects(render3), "DaemonSet")}
    assert f"{NVIDIA_DS}-mps-control-daemon" in upstream
    assert not [d for d in of_kind(render3(), "DaemonSet") if "mps" in d["metadata"]["name"]]


def test_efa_keys_of_the_eks_chart(render3: Renderer) -> None:
    objects = render3(
        "aws-efa-k8s-device-plugin.additionalPodLabels.team=ml",
        "aws-efa-k8s-device-plugin.additionalPodAnnotations.note=efa",
        "aws-efa-k8s-device-plugin.nodeSelector.example\\.com/efa=yes",
        "aws-efa-k8s-device-plugin.securityContext.privileged=true",
    )
    workload = named(objects, "DaemonSet", EFA_DS)
    assert workload["spec"]["template"]["metadata"]["labels"]["team"] == "ml"
    assert workload["spec"]["selector"] == named(render3(), "DaemonSet", EFA_DS)["spec"]["selector"]
    assert workload["spec"]["template"]["metadata"]["annotations"] == {"note": "efa"}
    assert pod_spec(workload)["nodeSelector"] == {"example.com/efa": "yes"}
    assert container(objects, EFA_DS)["securityContext"] == {"privileged": True}


def test_neuron_namespace_moves_its_namespaced_objects(render3: Renderer) -> None:
    objects = render3("neuron-device-plugin.namespace=neuron")
    assert named(objects, "DaemonSet", NEURON_DS)["metadata"]["namespace"] == "neuron"
    assert named(objects, "ServiceAccount", "neuron-device-plugin")["metadata"]["namespace"] == "neuron"
    assert (
        named(objects, "ClusterRoleBinding", "neuron-device-plugin")["subjects"][0]["namespace"] == "neuron"
    )


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("nvidia-device-plugin.afinity.nodeAffinity.x=y", "afinity"),
        ("nvidia-device-plugin.namespaceOveride=gpu", "namespaceOveride"),
        ("nvidia-device-plugin.migStrategy=half", "migStrategy"),
        ("nvidia-device-plugin.config.fallbackStrategies={nmaed}", "fallbackStrategies"),
        ("nvidia-device-plugin.mps.rot=/x", "rot"),
        ("nvidia-device-plugin.securityContext.privilegd=true", "privilegd"),
        ("aws-efa-k8s-device-plugin.additionalPodLabel.a=b", "additionalPodLabel"),
        ("neuron-device-plugin.namespce=kube-system", "namespce"),
    ],
)
def test_schema_rejects_typos_in_upstream_keys(render3: Renderer, assignment: str, complaint: str) -> None:
    with pytest.raises(RenderError, match=complaint):
        render3(assignment)
