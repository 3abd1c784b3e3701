"""job-auto-restart: the in-cluster controller beside the HyperPod service-role RBAC."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hyperpod_deps import __version__
from hyperpod_deps.autorestart.jobkinds import BY_KIND
from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.settings import convert
from tests.chart.test_health_monitoring_agent import notes
from tests.support.charts import SUBCHARTS, Renderer, named, of_kind, pod_spec

NAME = "dependencies-job-auto-restart"
# Keep these renders small: the CRDs are tested elsewhere.
NO_CRDS = ("trainingOperators.crds.enabled=false", "mpi-operator.crds.enabled=false")
# The controller is opt-in on hyperpod (its image is not published yet): these tests turn it on.
CONTROLLER_ON = (*NO_CRDS, "job-auto-restart.controller.enabled=true")
GENERIC = (*NO_CRDS, "global.platform=generic", "health-monitoring-agent.enabled=false")


def settings_of(objects: list[Manifest]) -> ControllerSettings:
    """The ConfigMap's file, read by the controller's own model: a key the model does not know fails."""
    config = named(objects, "ConfigMap", NAME)
    return convert(ControllerSettings, yaml.safe_load(config["data"]["settings.yaml"]))


def controller(objects: list[Manifest]) -> dict[str, Any]:
    (only,) = pod_spec(named(objects, "Deployment", NAME))["containers"]
    found: dict[str, Any] = only
    return found


def job_resources(objects: list[Manifest]) -> list[str]:
    rules = named(objects, "ClusterRole", NAME)["rules"]
    return list(next(r for r in rules if r["apiGroups"] == ["kubeflow.org"])["resources"])


@pytest.fixture(scope="module")
def default(render: Renderer) -> list[Manifest]:
    return render(*CONTROLLER_ON)


def test_the_controller_runs_two_replicas_of_the_agents_image(default: list[Manifest]) -> None:
    deployment = named(default, "Deployment", NAME)
    assert deployment["metadata"]["namespace"] == "kube-system"
    assert deployment["spec"]["replicas"] == 2
    main = controller(default)
    assert main["image"] == f"ghcr.io/hyperpod-deps/agents:{__version__}"
    assert main["args"] == ["jobs", "controller", "--config", "/etc/hyperpod-deps/auto-restart/settings.yaml"]
    assert {e["name"] for e in main["env"]} == {"POD_NAME", "POD_NAMESPACE"}


def test_the_subchart_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((SUBCHARTS / "job-auto-restart" / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


def test_the_pod_is_restricted_with_probes_and_spread(default: list[Manifest]) -> None:
    spec = pod_spec(named(default, "Deployment", NAME))
    assert spec["serviceAccountName"] == NAME
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65532
    main = controller(default)
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert main["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    for probe in ("livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["ports"] == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]
    (term,) = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"]
        == "job-auto-restart"
    )
    assert {v["name"] for v in spec["volumes"]} == {"settings", "tmp"}


def test_the_metrics_service_selects_the_controller(default: list[Manifest]) -> None:
    service = named(default, "Service", f"{NAME}-metrics")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    template = named(default, "Deployment", NAME)["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()


def test_the_settings_fit_the_controllers_model(default: list[Manifest]) -> None:
    settings = settings_of(default)
    assert settings.platform == "hyperpod"
    assert settings.leader_election.lease_name == NAME
    assert settings.leader_election.lease_namespace == "kube-system"
    assert settings.metrics.port == 8080
    assert settings.handled_kinds() == ("MPIJob", "TFJob", "XGBoostJob", "PaddleJob")


@pytest.mark.parametrize(
    ("values", "pytorch_handled"),
    [
        ((), False),
        (("global.platform=generic", "health-monitoring-agent.enabled=false"), True),
        (("job-auto-restart.controller.handlePyTorchJobsOnHyperPod=true",), True),
    ],
    ids=["hyperpod-leaves-pytorchjobs-to-hyperpod", "generic-handles-all", "hyperpod-switch-on"],
)
def test_the_platform_switch_decides_who_restarts_pytorchjobs(
    render3: Renderer, values: tuple[str, ...], pytorch_handled: bool
) -> None:
    objects = render3(*CONTROLLER_ON, *values)
    settings = settings_of(objects)
    assert ("PyTorchJob" in settings.handled_kinds()) is pytorch_handled
    # The RBAC grants exactly the kinds the controller will watch.
    assert job_resources(objects) == [BY_KIND[k].plural for k in settings.handled_kinds()]


def test_rbac_is_least_privilege(default: list[Manifest]) -> None:
    rules = named(default, "ClusterRole", NAME)["rules"]
    assert rules[0]["verbs"] == ["get", "list", "watch", "patch"], (
        "the job's record is a patch; no delete, no spec"
    )
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch", "delete"]} in rules
    assert {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]} in rules
    assert {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get"]} in rules
    assert {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]} in rules
    assert len(rules) == 5
    binding = named(default, "ClusterRoleBinding", NAME)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "kube-system"}]
    role = named(default, "Role", NAME)
    assert role["metadata"]["namespace"] == "kube-system"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [NAME],
            "verbs": ["get", "update"],
        },
    ]


def test_without_mpijobs_no_batch_jobs_are_read(render3: Renderer) -> None:
    objects = render3(*GENERIC, "job-auto-restart.controller.kinds={PyTorchJob}")
    rules = named(objects, "ClusterRole", NAME)["rules"]
    assert not [r for r in rules if r["apiGroups"] == ["batch"]]
    assert job_resources(objects) == ["pytorchjobs"]


def test_the_service_role_rbac_keeps_its_fixed_names(default: list[Manifest]) -> None:
    assert named(default, "ClusterRole", "job-auto-restart")
    assert named(default, "ClusterRoleBinding", "job-auto-restart")


def test_controller_off_keeps_only_the_service_role(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, "job-auto-restart.controller.enabled=false")
    mine = [
        o
        for o in objects
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "job-auto-restart"
    ]
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in mine) == [
        "ClusterRole/job-auto-restart",
        "ClusterRoleBinding/job-auto-restart",
        "ServiceAccount/job-auto-restart",
    ]


def test_values_reach_the_settings(render3: Renderer) -> None:
    objects = render3(
        *GENERIC,
        "job-auto-restart.controller.triggers.podSignals={7}",
        "job-auto-restart.controller.triggers.nodeNotReadyGraceSeconds=30",
        "job-auto-restart.controller.logLevel=debug",
        "job-auto-restart.controller.metrics.port=9090",
        "job-auto-restart.controller.blastRadius.maxJobPercent=30",
        "job-auto-restart.controller.blastRadius.windowSeconds=900",
    )
    settings = settings_of(objects)
    assert settings.blast_radius.guard().max_job_percent == 30
    assert settings.blast_radius.window_seconds == 900
    assert settings.blast_radius.max_node_percent == 20  # the default
    assert settings.triggers.pod_signals == (7,)
    assert settings.triggers.node_not_ready_grace_seconds == 30
    assert settings.log_level == "debug"
    assert controller(objects)["ports"][0]["containerPort"] == 9090
    assert named(objects, "Service", f"{NAME}-metrics")["spec"]["ports"][0]["port"] == 9090


def test_a_settings_change_rolls_the_pods(render3: Renderer) -> None:
    def checksum(*values: str) -> str:
        deployment = named(render3(*GENERIC, *values), "Deployment", NAME)
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/settings"])

    assert checksum() != checksum("job-auto-restart.controller.logLevel=debug")


def test_the_image_follows_the_registry_mirror_and_digest(render3: Renderer) -> None:
    mirrored = controller(render3(*CONTROLLER_ON, "global.imageRegistry=mirror.example.com"))
    assert mirrored["image"] == f"mirror.example.com/hyperpod-deps/agents:{__version__}"
    digest = "sha256:" + "a" * 64
    pinned = controller(render3(*CONTROLLER_ON, f"job-auto-restart.controller.image.digest={digest}"))
    assert pinned["image"] == f"ghcr.io/hyperpod-deps/agents@{digest}"


def test_pull_secrets_add_to_the_global_ones(render3: Renderer) -> None:
    objects = render3(
        *NO_CRDS,
        *CONTROLLER_ON,
        "global.imagePullSecrets={shared}",
        "job-auto-restart.controller.imagePullSecrets={own}",
    )
    assert pod_spec(named(objects, "Deployment", NAME))["imagePullSecrets"] == [
        {"name": "own"},
        {"name": "shared"},
    ]


def test_nothing_to_handle_fails_with_the_fix(render3: Renderer) -> None:
    with pytest.raises(RenderError, match=r"no job kind to handle.*handlePyTorchJobsOnHyperPod=true"):
        render3(*CONTROLLER_ON, "job-auto-restart.controller.kinds={PyTorchJob}")


def test_leader_timings_out_of_order_fail_with_the_fix(render3: Renderer) -> None:
    with pytest.raises(
        RenderError, match=r"retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds"
    ):
        render3(*CONTROLLER_ON, "job-auto-restart.controller.leaderElection.renewDeadlineSeconds=20")


@pytest.mark.parametrize(
    "value",
    [
        "job-auto-restart.controller.replica=3",
        "job-auto-restart.controller.kinds={MPIJobs}",
        "job-auto-restart.controller.triggers.podSignals={64}",
        "job-auto-restart.controller.triggers.nodeNotReady=maybe",
        "job-auto-restart.controller.metrics.port=80",
        "job-auto-restart.controller.blastRadius.maxJobPercent=0",
        "job-auto-restart.controller.blastRadius.maxNodePercent=150",
        "job-auto-restart.controller.blastRadius.maxJobShare=50",
        "job-auto-restart.controller.deletePolicy.enabled=yes",
    ],
)
def test_the_schema_refuses_typos_and_bad_values(render3: Renderer, value: str) -> None:
    with pytest.raises(RenderError):
        render3(*CONTROLLER_ON, value)


def test_every_controller_object_is_labelled(default: list[Manifest]) -> None:
    kinds = {
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "NetworkPolicy",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    }
    mine = [o for o in default if o["kind"] in kinds and o["metadata"]["name"].startswith(NAME)]
    assert {o["kind"] for o in mine} == kinds
    assert all(o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "hyperpod-deps" for o in mine)
    assert len(of_kind(default, "Deployment")) >= 1


def test_only_the_metrics_port_is_open(default: list[Manifest]) -> None:
    policy = named(default, "NetworkPolicy", NAME)
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "job-auto-restart",
        "app.kubernetes.io/instance": "dependencies",
    }
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


@pytest.mark.parametrize(("platform", "runs"), [("hyperpod", False), ("generic", True)])
def test_the_controller_is_opt_in_on_hyperpod_and_on_by_default_on_generic(
        render3: Renderer, platform: str, runs: bool) -> None:
    objects = render3(*NO_CRDS, f"global.platform={platform}")
    assert any(o["kind"] == "Deployment" and o["metadata"]["name"] == NAME for o in objects) is runs
    # HyperPod's own grants stay either way.
    assert named(objects, "ClusterRole", "job-auto-restart")


def test_enabled_accepts_only_a_boolean_or_empty(render3: Renderer) -> None:
    with pytest.raises(RenderError):
        render3(*NO_CRDS, "job-auto-restart.controller.enabled=yes")


def test_notes_say_how_to_build_and_push_an_unpublished_image() -> None:
    text = notes("global.platform=generic")
    section = text.split("Images this project builds and no registry publishes yet", 1)[1]
    assert f"ghcr.io/hyperpod-deps/agents:{__version__}" in section
    assert "make image" in section
    assert "hyperpod-deps images push <registry> --values-file agents-image.yaml" in section
    assert "--reuse-values -f agents-image.yaml" in section


def test_notes_name_no_unpublished_image_once_a_registry_is_set() -> None:
    mirror = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
    text = notes("global.platform=generic", f"global.imageRegistry={mirror}")
    assert "no registry publishes yet" not in text


def _delete_policy(objects: list[Manifest]) -> Manifest:
    return named(objects, "ValidatingAdmissionPolicy", f"{NAME}-pod-deletes")


def _variables(policy: Manifest) -> dict[str, str]:
    return {v["name"]: v["expression"] for v in policy["spec"]["variables"]}


def test_the_delete_policy_holds_the_controller_to_its_job_kinds(render3: Renderer) -> None:
    objects = render3(*GENERIC, "job-auto-restart.controller.deletePolicy.enabled=true")
    policy = _delete_policy(objects)
    assert policy["spec"]["matchConditions"] == [{
        "name": "auto-restart-controller",
        "expression": f"request.userInfo.username == 'system:serviceaccount:kube-system:{NAME}'"}]
    assert policy["spec"]["matchConstraints"]["resourceRules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"], "resources": ["pods"]}]
    variables = _variables(policy)
    assert variables["handledKinds"] == "['PyTorchJob', 'MPIJob', 'TFJob', 'XGBoostJob', 'PaddleJob']"
    assert "mpiLauncher" in variables
    assert named(objects, "ValidatingAdmissionPolicyBinding", f"{NAME}-pod-deletes")["spec"] == {
        "policyName": f"{NAME}-pod-deletes", "validationActions": ["Deny"]}


def test_the_delete_policy_follows_the_kinds_handled(render3: Renderer) -> None:
    objects = render3(*CONTROLLER_ON, "job-auto-restart.controller.deletePolicy.enabled=true",
                      "job-auto-restart.controller.kinds={PyTorchJob,TFJob}")
    variables = _variables(_delete_policy(objects))
    assert variables["handledKinds"] == "['TFJob']"  # PyTorchJobs are HyperPod's on hyperpod
    assert "mpiLauncher" not in variables


@pytest.mark.parametrize("values", [(), ("job-auto-restart.controller.deletePolicy.enabled=false",)],
                         ids=["not-known-to-be-served", "off"])
def test_no_delete_policy_where_off_or_not_known_to_be_served(render3: Renderer,
                                                              values: tuple[str, ...]) -> None:
    assert of_kind(render3(*GENERIC, *values), "ValidatingAdmissionPolicy") == []


def test_no_delete_policy_without_the_controller(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, "job-auto-restart.controller.deletePolicy.enabled=true")
    assert [p["metadata"]["name"] for p in of_kind(objects, "ValidatingAdmissionPolicy")] == []
