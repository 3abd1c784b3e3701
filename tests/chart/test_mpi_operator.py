"""mpi-operator: the Kubeflow MPI operator v2 (MPIJob kubeflow.org/v2beta1)."""

from __future__ import annotations

import pytest

from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.manifest import Manifest
from tests.chart.test_roles import install_notes
from tests.support.charts import CHART, Renderer, named, pod_spec

NAME = "dependencies-mpi-operator"
# The CRDs are tested in test_crds.py; leaving them out keeps these renders small.
NO_CRDS = ("trainingOperators.crds.enabled=false", "mpi-operator.crds.enabled=false")
ALL_VERBS_ON_PODS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def operator_objects(objects: list[Manifest]) -> list[Manifest]:
    return [
        o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "mpi-operator"
    ]


def container(objects: list[Manifest]) -> Manifest:
    containers: list[Manifest] = pod_spec(named(objects, "Deployment", NAME))["containers"]
    (only,) = containers
    return only


@pytest.fixture(scope="module")
def default(render: Renderer) -> list[Manifest]:
    return render(*NO_CRDS)


def test_deployment_runs_0_6_0_with_its_lease_in_the_release_namespace(default: list[Manifest]) -> None:
    deployment = named(default, "Deployment", NAME)
    assert deployment["metadata"]["namespace"] == "kube-system"
    main = container(default)
    assert main["image"] == "docker.io/mpioperator/mpi-operator:0.6.0"
    assert main["args"] == ["-alsologtostderr", "--lock-namespace=kube-system"]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert main["ports"] == [{"name": "healthz", "containerPort": 8080, "protocol": "TCP"}]
    assert main["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }


def test_pod_is_restricted_with_a_writable_tmp(default: list[Manifest]) -> None:
    spec = pod_spec(named(default, "Deployment", NAME))
    assert spec["serviceAccountName"] == NAME
    assert spec["securityContext"]["runAsNonRoot"] is True
    security = container(default)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container(default)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


def test_objects(default: list[Manifest]) -> None:
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in operator_objects(default)) == sorted(
        [
            *(
                f"{kind}/{NAME}"
                for kind in (
                    "ServiceAccount",
                    "ClusterRole",
                    "ClusterRoleBinding",
                    "Role",
                    "RoleBinding",
                    "Deployment",
                )
            ),
            *(f"ClusterRole/{NAME}-kubeflow-mpijobs-{role}" for role in ("admin", "edit", "view")),
        ]
    )


def test_cluster_role_is_least_privilege(default: list[Manifest]) -> None:
    rules = named(default, "ClusterRole", NAME)["rules"]
    assert rules == [
        {
            "apiGroups": ["kubeflow.org"],
            "resources": ["mpijobs"],
            "verbs": ["get", "list", "watch", "update", "patch", "delete"],
        },
        {"apiGroups": ["kubeflow.org"], "resources": ["mpijobs/status"], "verbs": ["get", "update", "patch"]},
        {"apiGroups": ["kubeflow.org"], "resources": ["mpijobs/finalizers"], "verbs": ["update"]},
        {
            "apiGroups": [""],
            "resources": ["configmaps", "secrets", "services"],
            "verbs": ["list", "watch", "create", "update"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ALL_VERBS_ON_PODS},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "watch", "create", "update"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {
            "apiGroups": ["scheduling.k8s.io"],
            "resources": ["priorityclasses"],
            "verbs": ["get", "list", "watch"],
        },
    ]
    for rule in rules:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
    resources = {res for r in rules for res in r["resources"]}
    assert not resources & {"pods/exec", "endpoints", "customresourcedefinitions"}
    binding = named(default, "ClusterRoleBinding", NAME)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "kube-system"}]


def test_leader_election_lease_is_a_namespaced_role(default: list[Manifest]) -> None:
    role = named(default, "Role", NAME)
    assert role["metadata"]["namespace"] == "kube-system"
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        }
    ]


def test_another_release_namespace_moves_lease_and_subjects(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, namespace="ml-operators")
    assert "--lock-namespace=ml-operators" in container(objects)["args"]
    assert named(objects, "Role", NAME)["metadata"]["namespace"] == "ml-operators"
    subjects = named(objects, "ClusterRoleBinding", NAME)["subjects"]
    assert subjects == [{"kind": "ServiceAccount", "name": NAME, "namespace": "ml-operators"}]


@pytest.mark.parametrize(
    ("scheduler", "groups"),
    [
        ("volcano", [["scheduling.volcano.sh"], ["scheduling.volcano.sh"]]),
        ("scheduler-plugins-scheduler", [["scheduling.x-k8s.io"]]),
    ],
)
def test_gang_scheduler_adds_flag_and_its_podgroups(
    render3: Renderer, scheduler: str, groups: list[list[str]]
) -> None:
    objects = render3(*NO_CRDS, f"mpi-operator.gangScheduler={scheduler}")
    assert f"--gang-scheduling={scheduler}" in container(objects)["args"]
    rules = named(objects, "ClusterRole", NAME)["rules"]
    assert [
        r["apiGroups"]
        for r in rules
        if r["apiGroups"][0].startswith("scheduling.") and r["apiGroups"] != ["scheduling.k8s.io"]
    ] == groups


def test_scenario_values_apply(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, values_files=[CHART / "ci/11-mpi-operator-values.yaml"])
    assert named(objects, "Deployment", NAME)["spec"]["replicas"] == 2
    assert container(objects)["args"] == [
        "-alsologtostderr",
        "--lock-namespace=kube-system",
        "--gang-scheduling=scheduler-plugins-scheduler",
    ]
    assert container(objects)["resources"]["limits"] == {"memory": "1Gi"}


def test_watch_namespace_and_extra_args(render3: Renderer) -> None:
    objects = render3(
        *NO_CRDS, "mpi-operator.watchNamespace=team-a", "mpi-operator.extraArgs={--threadiness=4}"
    )
    assert container(objects)["args"][2:] == ["--namespace=team-a", "--threadiness=4"]


def test_a_watched_namespace_confines_its_grants_to_that_namespace(render3: Renderer) -> None:
    """The operator's informers and writes stay in --namespace: reading every Secret of the
    cluster (the jobs' SSH keys and everyone else's) is granted only where it works."""
    default = render3(*NO_CRDS)
    objects = render3(*NO_CRDS, "mpi-operator.watchNamespace=team-a")
    cluster_rules = named(objects, "ClusterRole", NAME)["rules"]
    assert cluster_rules == [
        {
            "apiGroups": ["scheduling.k8s.io"],
            "resources": ["priorityclasses"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    role = named(objects, "Role", f"{NAME}-jobs")
    assert role["metadata"]["namespace"] == "team-a"
    # Everything namespaced the ClusterRole grants without watchNamespace, the Role grants there.
    cluster_wide = named(default, "ClusterRole", NAME)["rules"]
    namespaced = [r for r in cluster_wide if r["apiGroups"] != ["scheduling.k8s.io"]]
    assert role["rules"] == namespaced
    assert any("secrets" in r["resources"] for r in role["rules"])
    binding = named(objects, "RoleBinding", f"{NAME}-jobs")
    assert binding["metadata"]["namespace"] == "team-a"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"{NAME}-jobs",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "kube-system"}]


def test_volcano_queues_stay_cluster_wide_with_a_watched_namespace(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, "mpi-operator.watchNamespace=team-a", "mpi-operator.gangScheduler=volcano")
    cluster = {res for r in named(objects, "ClusterRole", NAME)["rules"] for res in r["resources"]}
    assert cluster == {"priorityclasses", "queues"}
    namespaced = {res for r in named(objects, "Role", f"{NAME}-jobs")["rules"] for res in r["resources"]}
    assert "podgroups" in namespaced and "queues" not in namespaced


@pytest.mark.parametrize(
    "setting",
    [
        "mpi-operator.watchNamespaces=team-a",
        "mpi-operator.image.tags=0.5.0",
        "mpi-operator.crds.keepIt=true",
        "mpi-operator.extraArgs={threadiness=4}",
    ],
)
def test_schema_rejects_typos(render3: Renderer, setting: str) -> None:
    with pytest.raises(RenderError, match="mpi-operator"):
        render3(*NO_CRDS, setting)


def test_turning_it_off_removes_every_object(render3: Renderer) -> None:
    assert operator_objects(render3(*NO_CRDS, "mpi-operator.enabled=false")) == []


def test_image_comes_from_the_global_mirror_unless_its_own_registry_is_set(render3: Renderer) -> None:
    mirror = CHART / "ci/03-custom-registry-values.yaml"
    objects = render3(*NO_CRDS, values_files=[mirror])
    assert container(objects)["image"] == (
        "registry.example.internal:5000/mirror/mpioperator/mpi-operator:0.6.0"
    )
    assert pod_spec(named(objects, "Deployment", NAME))["imagePullSecrets"] == [
        {"name": "mirror-pull-secret"}
    ]
    objects = render3(*NO_CRDS, "mpi-operator.image.registry=quay.io", values_files=[mirror])
    assert container(objects)["image"] == "quay.io/mpioperator/mpi-operator:0.6.0"


# --- the upstream HyperPod chart's contract ----------------------------------------------------

# Upstream's Deployment selector for release "dependencies" (immutable: an in-place upgrade
# needs exactly this).
UPSTREAM_SELECTOR = {
    "app": "mpi-operator",
    "app.kubernetes.io/component": "mpijob",
    "app.kubernetes.io/name": "mpi-operator",
    "app.kubernetes.io/instance": "dependencies",
    "kustomize.component": "mpi-operator",
}


def test_deployment_selector_is_upstreams_exactly_and_the_pods_carry_it(default: list[Manifest]) -> None:
    deployment = named(default, "Deployment", NAME)
    assert deployment["spec"]["selector"] == {"matchLabels": UPSTREAM_SELECTOR}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert {key: labels[key] for key in UPSTREAM_SELECTOR} == UPSTREAM_SELECTOR
    assert labels["app.kubernetes.io/part-of"] == "hyperpod-deps"


def test_aggregated_roles_carry_upstreams_labels_and_rules(default: list[Manifest]) -> None:
    group = "rbac.authorization.kubeflow.org"
    admin = named(default, "ClusterRole", f"{NAME}-kubeflow-mpijobs-admin")
    assert admin["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-admin"] == "true"
    assert admin["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {f"{group}/aggregate-to-kubeflow-mpijobs-admin": "true"}}]
    }
    edit = named(default, "ClusterRole", f"{NAME}-kubeflow-mpijobs-edit")
    assert edit["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-edit"] == "true"
    assert edit["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-mpijobs-admin"] == "true"
    assert edit["rules"] == [{
        "apiGroups": ["kubeflow.org"], "resources": ["mpijobs", "mpijobs/status"],
        "verbs": ["get", "list", "watch", "create", "delete", "deletecollection", "patch", "update"],
    }]
    view = named(default, "ClusterRole", f"{NAME}-kubeflow-mpijobs-view")
    assert view["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-view"] == "true"
    assert view["rules"] == [{"apiGroups": ["kubeflow.org"], "resources": ["mpijobs", "mpijobs/status"],
                              "verbs": ["get", "list", "watch"]}]


def test_upstreams_mpi_operator_keys_are_honoured(render3: Renderer) -> None:
    objects = render3(
        *NO_CRDS,
        "mpi-operator.mpiOperator.image.repository=mirror.example.com/mpi/mpi-operator",
        "mpi-operator.mpiOperator.image.tag=0.6.0-r1",
        "mpi-operator.mpiOperator.imagePullPolicy=Always",
        "mpi-operator.mpiOperator.replicas=3",
        "mpi-operator.mpiOperator.additionalArgs={-v=4}",
        "mpi-operator.mpiOperator.serviceAccount.annotations.owner=ml-platform",
        "mpi-operator.mpiOperator.nodeSelector.role=system",
        "mpi-operator.mpiOperator.tolerations[0].key=sagemaker.amazonaws.com/node-health-status",
        "mpi-operator.mpiOperator.tolerations[0].operator=Exists",
        "mpi-operator.mpiOperator.topologySpreadConstraints[0].maxSkew=1",
        "mpi-operator.mpiOperator.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution=null",
        "mpi-operator.extraLabels.team=ml-platform",
    )
    deployment = named(objects, "Deployment", NAME)
    assert deployment["spec"]["replicas"] == 3
    main = container(objects)
    assert main["image"] == "mirror.example.com/mpi/mpi-operator:0.6.0-r1"
    assert main["imagePullPolicy"] == "Always"
    assert main["args"] == ["-alsologtostderr", "--lock-namespace=kube-system", "-v=4"]
    spec = pod_spec(deployment)
    assert spec["nodeSelector"] == {"role": "system"}
    assert spec["tolerations"] == [
        {"key": "sagemaker.amazonaws.com/node-health-status", "operator": "Exists"}
    ]
    assert spec["topologySpreadConstraints"] == [{"maxSkew": 1}]
    account = named(objects, "ServiceAccount", NAME)
    assert account["metadata"]["annotations"] == {"owner": "ml-platform"}
    # extraLabels: on every object, never in the (immutable) selector.
    assert {o["metadata"]["labels"].get("team") for o in operator_objects(objects)} == {"ml-platform"}
    assert "team" not in deployment["spec"]["selector"]["matchLabels"]


def test_upstream_keys_win_over_ours_only_when_set(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, "mpi-operator.replicas=2", "mpi-operator.mpiOperator.replicas=0")
    assert named(objects, "Deployment", NAME)["spec"]["replicas"] == 0
    objects = render3(*NO_CRDS, "mpi-operator.replicas=2", "mpi-operator.mpiOperator.image.tag=0.6.1")
    assert named(objects, "Deployment", NAME)["spec"]["replicas"] == 2
    assert container(objects)["image"] == "docker.io/mpioperator/mpi-operator:0.6.1"
    # A repository without a registry host still goes through the global mirror.
    objects = render3(*NO_CRDS, "global.imageRegistry=mirror.example.com",
                      "mpi-operator.mpiOperator.image.repository=mpioperator/mpi-operator")
    assert container(objects)["image"] == "mirror.example.com/mpioperator/mpi-operator:0.6.0"


def test_notes_list_the_upstream_keys_in_use_and_ours_to_prefer() -> None:
    notes = install_notes(
        "mpi-operator.mpiOperator.replicas=2", "mpi-operator.mpiOperator.imagePullPolicy=Always"
    )
    assert (
        "honoured: mpi-operator.mpiOperator.replicas (the upstream chart's key); "
        "prefer mpi-operator.replicas."
    ) in notes
    assert "prefer mpi-operator.image.pullPolicy." in notes
    assert "honoured: mpi-operator.mpiOperator" not in install_notes()


@pytest.mark.parametrize(
    "setting",
    [
        "mpi-operator.mpiOperator.replica=2",
        "mpi-operator.mpiOperator.image.digest=sha256:abc",
        "mpi-operator.mpiOperator.serviceAccount.create=false",
        "mpi-operator.mpiOperator.additionalArgs={v=4}",
        "mpi-operator.extraLabel.team=x",
    ],
)
def test_schema_still_rejects_what_upstream_never_had(render3: Renderer, setting: str) -> None:
    with pytest.raises(RenderError, match="mpi-operator"):
        render3(*NO_CRDS, setting)


def test_the_removed_cluster_domain_is_accepted_and_named_ignored(render3: Renderer) -> None:
    """An earlier version had clusterDomain; a release that set it must still upgrade with
    --reuse-values, and the notes say the value does nothing (v0.6.0 has no such flag)."""
    notes = install_notes("mpi-operator.clusterDomain=x.local")
    assert "ignored: mpi-operator.clusterDomain (deprecated" in notes
    operator = named(render3("mpi-operator.clusterDomain=x.local"), "Deployment", "dependencies-mpi-operator")
    assert "x.local" not in str(pod_spec(operator))
