"""training-operators: the Kubeflow training operator v1 (umbrella key trainingOperators)."""

from __future__ import annotations

import pytest

from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.core.manifest import Manifest
from tests.chart.test_roles import install_notes
from tests.support.charts import CHART, Renderer, named, of_kind, pod_spec

# The upstream HyperPod chart's names: HyperPod and users look these objects up.
DEPLOYMENT = "dependencies-training-operators"
NAME = "training-operator"
NAMESPACE = "kubeflow"
SECRET = "dependencies-training-operator-webhook-cert"
SELECTOR = {"control-plane": "kubeflow-training-operator"}
AGGREGATED = ("kubeflow-training-admin", "kubeflow-training-edit", "kubeflow-training-view")
WEBHOOKS = "validator.training-operator.kubeflow.org"
ALL_JOB_KINDS = ["mpijobs", "tfjobs", "pytorchjobs", "mxjobs", "xgboostjobs", "paddlejobs"]
# The CRDs are tested in test_crds.py; leaving them out keeps these renders small.
NO_CRDS = ("trainingOperators.crds.enabled=false", "mpi-operator.crds.enabled=false")
DEFAULT_SCHEMES = ["tfjob", "pytorchjob", "xgboostjob", "paddlejob"]
JOB_VERBS = ["get", "list", "watch", "update", "patch", "delete"]
POD_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def operator_objects(objects: list[Manifest]) -> list[Manifest]:
    return [
        o
        for o in objects
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "training-operator"
    ]


def container(objects: list[Manifest]) -> Manifest:
    containers: list[Manifest] = pod_spec(named(objects, "Deployment", DEPLOYMENT))["containers"]
    (only,) = containers
    return only


@pytest.fixture(scope="module")
def default(render: Renderer) -> list[Manifest]:
    return render(*NO_CRDS)


def test_deployment_runs_v1_8_1_in_kubeflow(default: list[Manifest]) -> None:
    deployment = named(default, "Deployment", DEPLOYMENT)
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert deployment["spec"]["replicas"] == 1
    main = container(default)
    assert main["image"] == "docker.io/kubeflow/training-operator:v1.8.1"
    assert main["args"] == [
        *(f"--enable-scheme={s}" for s in DEFAULT_SCHEMES),
        "--metrics-bind-address=:8080",
        "--health-probe-bind-address=:8081",
        "--leader-elect",
        "--webhook-server-port=9443",
        f"--webhook-service-name={NAME}",
        f"--webhook-secret-name={SECRET}",
    ]
    assert "--enable-scheme=mpijob" not in main["args"]
    # The operator's cert rotator finds its Secret in MY_POD_NAMESPACE.
    assert main["env"] == [{"name": "MY_POD_NAMESPACE",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {
        "metrics": 8080,
        "probes": 8081,
        "webhook": 9443,
    }
    assert main["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert main["resources"]["limits"] == {"memory": "1Gi"}


def test_pod_is_restricted_and_mounts_the_webhook_cert_read_only(default: list[Manifest]) -> None:
    spec = pod_spec(named(default, "Deployment", DEPLOYMENT))
    assert spec["serviceAccountName"] == NAME
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(default)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container(default)["volumeMounts"] == [
        {
            "name": "webhook-cert",
            "mountPath": "/tmp/k8s-webhook-server/serving-certs",
            "readOnly": True,
        }
    ]
    assert spec["volumes"] == [{"name": "webhook-cert", "secret": {"secretName": SECRET}}]


def test_every_object_is_labelled_and_namespaced_objects_are_in_kubeflow(
    default: list[Manifest],
) -> None:
    objects = operator_objects(default)
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects) == sorted(
        [
            f"ServiceAccount/{NAME}",
            f"Secret/{SECRET}",
            f"ClusterRole/{NAME}",
            *(f"ClusterRole/{name}" for name in AGGREGATED),
            f"ClusterRoleBinding/{NAME}",
            f"Role/{NAME}",
            f"RoleBinding/{NAME}",
            f"Service/{NAME}",
            f"Deployment/{DEPLOYMENT}",
            "ValidatingWebhookConfiguration/validator.training-operator.kubeflow.org",
        ]
    )
    for obj in objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "hyperpod-deps"
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"):
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["kind"]


def test_cluster_role_is_least_privilege(default: list[Manifest]) -> None:
    plurals = [f"{s}s" for s in DEFAULT_SCHEMES]
    assert named(default, "ClusterRole", NAME)["rules"] == [
        {"apiGroups": ["kubeflow.org"], "resources": plurals, "verbs": JOB_VERBS},
        {
            "apiGroups": ["kubeflow.org"],
            "resources": [f"{p}/status" for p in plurals],
            "verbs": ["get", "update", "patch"],
        },
        {
            "apiGroups": ["kubeflow.org"],
            "resources": [f"{p}/finalizers" for p in plurals],
            "verbs": ["update"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": POD_VERBS},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch", "create", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": POD_VERBS},
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations"],
            "verbs": ["list", "watch"],
        },
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations"],
            "resourceNames": ["validator.training-operator.kubeflow.org"],
            "verbs": ["get", "update"],
        },
    ]
    binding = named(default, "ClusterRoleBinding", NAME)
    assert binding["roleRef"]["name"] == NAME
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]


def test_namespaced_role_holds_the_lease_and_the_cert_secret(default: list[Manifest]) -> None:
    assert named(default, "Role", NAME)["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        },
        # The rotator's informer lists the namespace's Secrets; it reads and writes only its own.
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["dependencies-training-operator-webhook-cert"],
            "verbs": ["get", "update"],
        },
    ]
    secret_rules = [r for r in named(default, "Role", NAME)["rules"] if "secrets" in r["resources"]]
    assert all("resourceNames" in r for r in secret_rules if {"get", "update"} & set(r["verbs"]))
    assert named(default, "RoleBinding", NAME)["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": NAME,
    }


def test_the_webhook_refuses_kube_system(render3: Renderer) -> None:
    """Its certificate rotator lists every Secret of the operator's namespace."""
    with pytest.raises(RenderError, match="could read every kube-system Secret"):
        render3(*NO_CRDS, "trainingOperators.namespace=kube-system")
    objects = render3(
        *NO_CRDS, "trainingOperators.namespace=kube-system", "trainingOperators.webhook.enabled=false"
    )
    assert not [r for r in named(objects, "Role", NAME)["rules"] if "secrets" in r["resources"]]


def test_webhook_validates_each_enabled_kind_through_the_service(default: list[Manifest]) -> None:
    config = named(default, "ValidatingWebhookConfiguration", "validator.training-operator.kubeflow.org")
    hooks = config["webhooks"]
    assert [h["name"] for h in hooks] == [
        f"validator.{s}.training-operator.kubeflow.org" for s in DEFAULT_SCHEMES
    ]
    pytorch = hooks[1]
    assert pytorch["clientConfig"] == {
        "service": {
            "name": NAME,
            "namespace": NAMESPACE,
            "path": "/validate-kubeflow-org-v1-pytorchjob",
            "port": 443,
        }
    }
    assert "caBundle" not in pytorch["clientConfig"], "the operator injects its own CA"
    assert pytorch["rules"][0]["resources"] == ["pytorchjobs"]
    assert pytorch["failurePolicy"] == "Fail"
    secret = named(default, "Secret", SECRET)
    assert "data" not in secret, "the operator fills the certificate in"
    service = named(default, "Service", NAME)
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "monitoring-port": (8080, "metrics"),
        "webhook": (443, "webhook"),
    }


def test_schemes_drive_args_rbac_and_webhooks(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, "trainingOperators.schemes={tfjob}")
    assert [a for a in container(objects)["args"] if "scheme" in a] == ["--enable-scheme=tfjob"]
    rules = named(objects, "ClusterRole", NAME)["rules"]
    assert rules[0]["resources"] == ["tfjobs"]
    assert not [r for r in rules if r["apiGroups"] == ["autoscaling"]], "HPA only for PyTorchJob"
    hooks = named(objects, "ValidatingWebhookConfiguration", "validator.training-operator.kubeflow.org")[
        "webhooks"
    ]
    assert [h["name"] for h in hooks] == ["validator.tfjob.training-operator.kubeflow.org"]


@pytest.mark.parametrize("schemes", ["{mpijob}", "{pytorchjob,mpijob}"])
def test_schema_forbids_the_mpijob_scheme(render3: Renderer, schemes: str) -> None:
    with pytest.raises(RenderError, match="schemes"):
        render3(*NO_CRDS, f"trainingOperators.schemes={schemes}")


@pytest.mark.parametrize(
    "setting",
    [
        "trainingOperators.scheme={pytorchjob}",
        "trainingOperators.webhook.failurepolicy=Ignore",
        "trainingOperators.schemes={PyTorchJob}",
        "trainingOperators.image.tags=v1.8.0",
    ],
)
def test_schema_rejects_typos(render3: Renderer, setting: str) -> None:
    with pytest.raises(RenderError, match="trainingOperators"):
        render3(*NO_CRDS, setting)


@pytest.mark.parametrize(
    ("scheduler", "group"),
    [("volcano", "scheduling.volcano.sh"), ("scheduler-plugins-scheduler", "scheduling.x-k8s.io")],
)
def test_gang_scheduler_adds_its_flag_and_podgroups(render3: Renderer, scheduler: str, group: str) -> None:
    objects = render3(*NO_CRDS, f"trainingOperators.gangSchedulerName={scheduler}")
    assert f"--gang-scheduler-name={scheduler}" in container(objects)["args"]
    podgroups = [r for r in named(objects, "ClusterRole", NAME)["rules"] if r["resources"] == ["podgroups"]]
    assert [r["apiGroups"] for r in podgroups] == [[group]]


def test_no_podgroup_access_without_a_gang_scheduler(default: list[Manifest]) -> None:
    resources = [res for r in named(default, "ClusterRole", NAME)["rules"] for res in r["resources"]]
    assert "podgroups" not in resources


def test_v1_7_scenario_has_no_webhook(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, values_files=[CHART / "ci/13-training-operator-v1-7-values.yaml"])
    main = container(objects)
    assert main["image"] == "docker.io/kubeflow/training-operator:v1.7.0"
    assert not [a for a in main["args"] if a.startswith("--webhook")]
    assert "volumeMounts" not in main
    assert not of_kind(objects, "ValidatingWebhookConfiguration")
    assert not [o for o in of_kind(objects, "Secret") if o["metadata"]["name"] == SECRET]
    assert named(objects, "Role", NAME)["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        },
    ]
    resources = [res for r in named(objects, "ClusterRole", NAME)["rules"] for res in r["resources"]]
    assert "validatingwebhookconfigurations" not in resources


def test_scenario_values_apply(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, values_files=[CHART / "ci/10-training-operator-values.yaml"])
    deployment = named(objects, "Deployment", DEPLOYMENT)
    assert deployment["spec"]["replicas"] == 2
    assert pod_spec(deployment)["priorityClassName"] == "system-cluster-critical"
    assert container(objects)["resources"]["requests"] == {"cpu": "200m", "memory": "512Mi"}
    hooks = named(objects, "ValidatingWebhookConfiguration", "validator.training-operator.kubeflow.org")[
        "webhooks"
    ]
    assert [(h["name"], h["failurePolicy"]) for h in hooks] == [
        ("validator.pytorchjob.training-operator.kubeflow.org", "Ignore"),
        ("validator.tfjob.training-operator.kubeflow.org", "Ignore"),
    ]


def test_image_registry_and_digest(render3: Renderer) -> None:
    digest = "sha256:" + "a" * 64
    objects = render3(
        *NO_CRDS,
        "global.imageRegistry=mirror.example.com",
        f"trainingOperators.image.digest={digest}",
    )
    assert container(objects)["image"] == f"mirror.example.com/kubeflow/training-operator@{digest}"


def test_scheduling_values_reach_the_pod(render3: Renderer) -> None:
    objects = render3(
        *NO_CRDS,
        "trainingOperators.nodeSelector.role=system",
        "trainingOperators.tolerations[0].key=CriticalAddonsOnly",
        "trainingOperators.tolerations[0].operator=Exists",
    )
    spec = pod_spec(named(objects, "Deployment", DEPLOYMENT))
    assert spec["nodeSelector"] == {"role": "system"}
    assert spec["tolerations"] == [{"key": "CriticalAddonsOnly", "operator": "Exists"}]


def test_replicas_without_leader_election_fail(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(*NO_CRDS, "trainingOperators.replicas=2", "trainingOperators.leaderElection.enabled=false")
    assert (
        "trainingOperators.replicas=2 with leader election off: every replica would reconcile "
        "the same jobs. Set --set trainingOperators.leaderElection.enabled=true (or replicas=1)."
    ) in str(error.value)


def test_clashing_ports_fail(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(*NO_CRDS, "trainingOperators.probes.port=8080")
    message = str(error.value)
    assert (
        "trainingOperators: metrics.port, probes.port and webhook.port must differ (got [8080 8080 9443])"
        in message
    )
    assert "--set trainingOperators.metrics.port=8080,trainingOperators.probes.port=8081" in message


def test_turning_it_off_removes_every_object(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, "trainingOperators.enabled=false")
    assert operator_objects(objects) == []


def test_image_comes_from_the_global_mirror(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, values_files=[CHART / "ci/03-custom-registry-values.yaml"])
    assert container(objects)["image"] == (
        "registry.example.internal:5000/mirror/kubeflow/training-operator:v1.8.1"
    )
    assert pod_spec(named(objects, "Deployment", DEPLOYMENT))["imagePullSecrets"] == [
        {"name": "mirror-pull-secret"}
    ]


# --- the upstream HyperPod chart's contract ----------------------------------------------------


def test_deployment_selector_is_upstreams_exactly_and_the_pods_carry_it(default: list[Manifest]) -> None:
    """A selector is immutable: `helm upgrade` over an upstream release needs the identical one."""
    deployment = named(default, "Deployment", DEPLOYMENT)
    assert deployment["spec"]["selector"] == {"matchLabels": SELECTOR}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["control-plane"] == "kubeflow-training-operator"
    assert labels["app.kubernetes.io/part-of"] == "hyperpod-deps"
    assert named(default, "Service", NAME)["spec"]["selector"] == SELECTOR


def test_service_keeps_upstreams_metrics_port_and_scrape_annotations(default: list[Manifest]) -> None:
    service = named(default, "Service", NAME)
    assert service["metadata"]["namespace"] == NAMESPACE
    (metrics,) = [p for p in service["spec"]["ports"] if p["port"] == 8080]
    assert metrics["name"] == "monitoring-port"
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_aggregated_roles_carry_upstreams_labels_and_rules(default: list[Manifest]) -> None:
    group = "rbac.authorization.kubeflow.org"
    admin = named(default, "ClusterRole", "kubeflow-training-admin")
    assert admin["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-admin"] == "true"
    assert admin["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {f"{group}/aggregate-to-kubeflow-training-admin": "true"}}]
    }
    # No rules field: the aggregation controller owns it (Helm 4's server-side apply would conflict).
    assert "rules" not in admin
    edit = named(default, "ClusterRole", "kubeflow-training-edit")
    assert edit["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-edit"] == "true"
    # edit is what the admin role aggregates.
    assert edit["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-training-admin"] == "true"
    assert edit["rules"] == [
        {"apiGroups": ["kubeflow.org"], "resources": ALL_JOB_KINDS,
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
        {"apiGroups": ["kubeflow.org"], "resources": [f"{k}/status" for k in ALL_JOB_KINDS],
         "verbs": ["get"]},
    ]
    view = named(default, "ClusterRole", "kubeflow-training-view")
    assert view["metadata"]["labels"][f"{group}/aggregate-to-kubeflow-view"] == "true"
    assert f"{group}/aggregate-to-kubeflow-training-admin" not in view["metadata"]["labels"]
    assert view["rules"][0]["verbs"] == ["get", "list", "watch"]
    assert view["rules"][0]["resources"] == ALL_JOB_KINDS


def test_operator_rbac_stays_least_privilege_unlike_upstreams(default: list[Manifest]) -> None:
    rules = named(default, "ClusterRole", NAME)["rules"]
    for rule in rules:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
    resources = {res for r in rules for res in r["resources"]}
    assert not resources & {"pods/exec", "deployments", "roles", "rolebindings", "mpijobs", "mxjobs",
                            "serviceaccounts", "configmaps", "endpoints"}


def test_namespace_value_moves_every_namespaced_object(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, "trainingOperators.namespace=ml-ops")
    for kind, name in [("Deployment", DEPLOYMENT), ("ServiceAccount", NAME), ("Service", NAME),
                       ("Role", NAME), ("RoleBinding", NAME), ("Secret", SECRET)]:
        assert named(objects, kind, name)["metadata"]["namespace"] == "ml-ops", kind
    assert named(objects, "ClusterRoleBinding", NAME)["subjects"][0]["namespace"] == "ml-ops"
    hooks = named(objects, "ValidatingWebhookConfiguration", WEBHOOKS)["webhooks"]
    assert {h["clientConfig"]["service"]["namespace"] for h in hooks} == {"ml-ops"}


def test_the_chart_creates_no_namespace_itself(render3: Renderer) -> None:
    """The umbrella owns Namespace objects; createNamespace (upstream's key) is only read there."""
    for setting in ("trainingOperators.createNamespace=true", "trainingOperators.createNamespace=false"):
        objects = render3(*NO_CRDS, setting)
        assert not [o for o in operator_objects(objects) if o["kind"] == "Namespace"]


def test_deployment_name_follows_the_release_like_upstreams(render3: Renderer) -> None:
    names = {o["metadata"]["name"] for o in operator_objects(render3(*NO_CRDS, release="prod"))
             if o["kind"] == "Deployment"}
    assert names == {"prod-training-operators"}
    overridden = render3(*NO_CRDS, "trainingOperators.fullnameOverride=kubeflow-trainer")
    names = {o["metadata"]["name"] for o in operator_objects(overridden) if o["kind"] == "Deployment"}
    assert names == {"kubeflow-trainer"}


UPSTREAM_SCHEMES = "{pytorchjob,tfjob,mxjob,xgboostjob,paddlejob}"


def test_upstreams_scheme_list_is_accepted_and_mxjob_dropped(render3: Renderer) -> None:
    objects = render3(*NO_CRDS, f"trainingOperators.schemes={UPSTREAM_SCHEMES}")
    assert [a for a in container(objects)["args"] if "scheme" in a] == [
        f"--enable-scheme={s}" for s in ("pytorchjob", "tfjob", "xgboostjob", "paddlejob")
    ]
    resources = {res for r in named(objects, "ClusterRole", NAME)["rules"] for res in r["resources"]}
    assert not {res for res in resources if res.startswith("mxjobs")}
    hooks = named(objects, "ValidatingWebhookConfiguration", WEBHOOKS)["webhooks"]
    assert "validator.mxjob.training-operator.kubeflow.org" not in [h["name"] for h in hooks]


def test_mxjob_alone_fails_with_the_fix(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(*NO_CRDS, "trainingOperators.schemes={mxjob}")
    assert "trainingOperators.schemes holds only mxjob" in str(error.value)
    assert "--set trainingOperators.schemes={pytorchjob}" in str(error.value)


def test_notes_say_mxjob_is_ignored_and_where_the_operator_runs() -> None:
    notes = install_notes(f"trainingOperators.schemes={UPSTREAM_SCHEMES}")
    assert f"Deployment {DEPLOYMENT} in {NAMESPACE}" in notes
    assert "ignored: mxjob in trainingOperators.schemes" in notes
    assert "ignored: mxjob" not in install_notes()


@pytest.mark.parametrize(
    "setting",
    [
        "trainingOperators.createNamespaces=false",
        "trainingOperators.namespace=Kube_Flow",
        "trainingOperators.createNamespace=yes-please",
        "trainingOperators.schemes={mpijob,mxjob}",
        "trainingOperators.schemes={mxnetjob}",
    ],
)
def test_schema_still_rejects_what_upstream_never_had(render3: Renderer, setting: str) -> None:
    with pytest.raises(RenderError, match="trainingOperators"):
        render3(*NO_CRDS, setting)
