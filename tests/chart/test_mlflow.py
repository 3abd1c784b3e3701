"""mlflow: the MLflow tracking server (SQLite on a volume, or an external database and S3)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from hyperpod_deps.chart.render import RenderError, RenderRequest, render_text
from hyperpod_deps.toolchain.helm import helm_path
from tests.chart.test_device_plugins import upstream_chart
from tests.support import charts
from tests.support.charts import CHART, Renderer, named, of_kind, pod_spec

NAME = "dependencies-mlflow"
ON = "mlflow.enabled=true"
SQLITE = CHART / "ci/20-mlflow-sqlite-values.yaml"
EXTERNAL = CHART / "ci/21-mlflow-external-db-s3-values.yaml"
DATABASE = (
    ON,
    "mlflow.backendStore.type=database",
    "mlflow.backendStore.database.existingSecret=mlflow-db",
)


def server(objects: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = pod_spec(named(objects, "Deployment", NAME))["containers"][0]
    return container


def arg_after(container: dict[str, Any], flag: str) -> str:
    args: list[str] = container["args"]
    value: str = args[args.index(flag) + 1]
    return value


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container["env"]}


# The upstream chart's ServiceAccount for training pods (mlflow.mlflow.serviceAccount).
CLIENT_ACCOUNT = ("ServiceAccount", "kubeflow", "mlflow-service-account1")


def ident(obj: dict[str, Any]) -> tuple[str, str | None, str]:
    return (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])


def mlflow_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "mlflow"]


def test_off_by_default(render3: Renderer) -> None:
    assert mlflow_objects(render3()) == []


def test_sqlite_on_a_volume_by_default(render: Renderer) -> None:
    objects = render(ON)
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in mlflow_objects(objects)) == [
        f"Deployment/{NAME}",
        f"NetworkPolicy/{NAME}",
        f"PersistentVolumeClaim/{NAME}-data",
        f"Service/{NAME}",
        f"ServiceAccount/{NAME}",
        "ServiceAccount/mlflow-service-account1",
    ]
    deployment = named(objects, "Deployment", NAME)
    assert deployment["metadata"]["namespace"] == "kube-system"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = server(objects)
    assert container["image"] == "ghcr.io/mlflow/mlflow:v2.22.0"
    assert container["command"] == ["mlflow", "server"]
    assert arg_after(container, "--host") == "0.0.0.0"
    assert arg_after(container, "--port") == "5000"
    assert arg_after(container, "--workers") == "2"
    assert arg_after(container, "--backend-store-uri") == "$(MLFLOW_BACKEND_STORE_URI)"
    assert env_of(container)["MLFLOW_BACKEND_STORE_URI"]["value"] == "sqlite:////mlflow/mlflow.db"
    assert "--serve-artifacts" in container["args"]
    assert arg_after(container, "--artifacts-destination") == "/mlflow/artifacts"
    assert arg_after(container, "--default-artifact-root") == "mlflow-artifacts:/"
    assert {"name": "data", "mountPath": "/mlflow"} in container["volumeMounts"]
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"{NAME}-data"
    claim = named(objects, "PersistentVolumeClaim", f"{NAME}-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "storageClassName" not in claim["spec"], "empty storageClass means the default class"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_service_exposes_http_on_5000(render3: Renderer) -> None:
    objects = render3(ON)
    service = named(objects, "Service", NAME)
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 5000, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == {
        "app.kubernetes.io/name": "mlflow",
        "app.kubernetes.io/instance": "dependencies",
    }
    assert server(objects)["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]


def test_network_policy_admits_only_the_http_port(render3: Renderer) -> None:
    policy = named(render3(ON), "NetworkPolicy", NAME)
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "mlflow",
        "app.kubernetes.io/instance": "dependencies",
    }
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [
        {"from": [{"namespaceSelector": {}}], "ports": [{"port": "http", "protocol": "TCP"}]}
    ]
    narrowed = render3(ON, "mlflow.networkPolicy.from[0].namespaceSelector.matchLabels.team=ml")
    peers = named(narrowed, "NetworkPolicy", NAME)["spec"]["ingress"][0]["from"]
    assert peers == [{"namespaceSelector": {"matchLabels": {"team": "ml"}}}]
    assert not of_kind(mlflow_objects(render3(ON, "mlflow.networkPolicy.enabled=false")), "NetworkPolicy")


def test_probes_use_the_health_endpoint(render3: Renderer) -> None:
    container = server(render3(ON))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe


def test_runs_restricted_with_writable_tmp_and_volume(render3: Renderer) -> None:
    objects = render3(ON)
    spec = pod_spec(named(objects, "Deployment", NAME))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65532
    assert spec["securityContext"]["fsGroup"] == 65532, "fsGroup makes the volume writable"
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    container = server(objects)
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]
    assert env_of(container)["HOME"]["value"] == "/tmp"
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert container["resources"]["limits"]["memory"] == "2Gi"


def test_external_database_and_s3(render: Renderer) -> None:
    objects = render(values_files=[EXTERNAL])
    assert not of_kind(mlflow_objects(objects), "PersistentVolumeClaim")
    deployment = named(objects, "Deployment", NAME)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    container = server(objects)
    assert container["image"] == ("123456789012.dkr.ecr.us-west-2.amazonaws.com/mlflow-postgres-s3:v2.22.0")
    assert env_of(container)["MLFLOW_BACKEND_STORE_URI"] == {
        "name": "MLFLOW_BACKEND_STORE_URI",
        "valueFrom": {"secretKeyRef": {"name": "mlflow-db", "key": "uri"}},
    }
    assert arg_after(container, "--artifacts-destination") == "s3://example-ml-artifacts/mlflow"
    assert env_of(container)["AWS_DEFAULT_REGION"]["value"] == "us-west-2"
    assert container["args"][-2:] == ["--gunicorn-opts", "--timeout 120"]
    assert "data" not in [m["name"] for m in container["volumeMounts"]]
    account = named(objects, "ServiceAccount", NAME)
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/hyperpod-mlflow-artifacts"
    }
    assert pod_spec(deployment)["serviceAccountName"] == NAME


def test_database_uri_never_appears_in_the_manifests(helm3: Any) -> None:
    text = render_text(helm3, RenderRequest(chart=charts.CHART, values_files=(EXTERNAL,)))
    assert "--backend-store-uri\n            - $(MLFLOW_BACKEND_STORE_URI)" in text
    for leak in ("postgresql://", "mysql://", "sqlite://"):
        assert leak not in text
    mlflow = [d for d in yaml.safe_load_all(text) if d and d["metadata"]["name"] == NAME]
    assert not [d for d in mlflow if d["kind"] == "Secret"], "the chart never holds the URI"


def test_the_uri_cannot_be_given_as_a_value(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="uri"):
        render3(*DATABASE, "mlflow.backendStore.database.uri=postgresql://u:p@db/mlflow")


def test_database_key_is_configurable(render3: Renderer) -> None:
    objects = render3(*DATABASE, "mlflow.backendStore.database.key=connection")
    ref = env_of(server(objects))["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "mlflow-db", "key": "connection"}


def test_database_with_pvc_artifacts_gets_its_own_volume(render3: Renderer) -> None:
    objects = render3(*DATABASE)
    claim = named(objects, "PersistentVolumeClaim", f"{NAME}-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert named(objects, "Deployment", NAME)["spec"]["strategy"] == {"type": "Recreate"}
    assert arg_after(server(objects), "--artifacts-destination") == "/mlflow/artifacts"


def test_database_with_shared_pvc_artifacts_scales(render3: Renderer) -> None:
    objects = render3(
        *DATABASE,
        "mlflow.replicaCount=3",
        "mlflow.persistence.accessModes={ReadWriteMany}",
        "mlflow.persistence.storageClass=efs-sc",
    )
    deployment = named(objects, "Deployment", NAME)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    claim = named(objects, "PersistentVolumeClaim", f"{NAME}-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "efs-sc"


def test_existing_claim_is_used_and_not_created(render3: Renderer) -> None:
    objects = render3(ON, "mlflow.persistence.existingClaim=mlflow-store")
    assert not of_kind(mlflow_objects(objects), "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_spec(named(objects, "Deployment", NAME))["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "mlflow-store"


def test_sqlite_scenario(render3: Renderer) -> None:
    objects = render3(values_files=[SQLITE])
    claim = named(objects, "PersistentVolumeClaim", f"{NAME}-data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert server(objects)["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}


def test_image_registry_mirror_and_digest(render3: Renderer) -> None:
    digest = "sha256:" + "a" * 64
    mirrored = render3(ON, "mlflow.image.registry=", "global.imageRegistry=mirror.example.com")
    assert server(mirrored)["image"] == "mirror.example.com/mlflow/mlflow:v2.22.0"
    pinned = render3(ON, f"mlflow.image.digest={digest}")
    assert server(pinned)["image"] == f"ghcr.io/mlflow/mlflow@{digest}"


def test_extra_args_env_and_scheduling(render3: Renderer) -> None:
    objects = render3(
        ON,
        "mlflow.server.extraArgs={--expose-prometheus,/tmp/metrics}",
        "mlflow.server.extraEnv[0].name=MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
        "mlflow.server.extraEnv[0].value=enabled",
        "mlflow.server.workers=4",
        "mlflow.nodeSelector.role=system",
        "mlflow.tolerations[0].key=dedicated",
        "mlflow.tolerations[0].operator=Exists",
        "mlflow.imagePullSecrets={regcred}",
    )
    container = server(objects)
    assert container["args"][-2:] == ["--expose-prometheus", "/tmp/metrics"]
    assert arg_after(container, "--workers") == "4"
    assert env_of(container)["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"]["value"] == "enabled"
    spec = pod_spec(named(objects, "Deployment", NAME))
    assert spec["nodeSelector"] == {"role": "system"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]


def test_service_account_can_be_brought_by_the_user(render3: Renderer) -> None:
    objects = render3(ON, "mlflow.serviceAccount.create=false", "mlflow.serviceAccount.name=ml")
    accounts = {ident(o) for o in of_kind(mlflow_objects(objects), "ServiceAccount")}
    assert accounts == {CLIENT_ACCOUNT}, "only the upstream chart's account for training pods"
    assert pod_spec(named(objects, "Deployment", NAME))["serviceAccountName"] == "ml"


# --- every fail message --------------------------------------------------------------------


def test_database_without_secret_fails_with_the_fix(render: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render(ON, "mlflow.backendStore.type=database")
    message = str(error.value)
    assert "mlflow.backendStore.type=database needs the Secret" in message
    assert "kubectl -n kube-system create secret generic mlflow-db" in message
    assert "--set mlflow.backendStore.database.existingSecret=mlflow-db" in message


def test_s3_without_uri_fails_with_the_fix(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(ON, "mlflow.artifactStore.type=s3")
    assert "--set mlflow.artifactStore.s3.uri=s3://<bucket>/mlflow-artifacts" in str(error.value)


def test_sqlite_with_replicas_fails_and_says_why(render: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render(ON, "mlflow.replicaCount=2")
    message = str(error.value)
    assert "mlflow.replicaCount=2 with mlflow.backendStore.type=sqlite" in message
    assert "ReadWriteOnce" in message and "cannot be shared" in message
    assert "--set mlflow.replicaCount=1" in message
    assert "--set mlflow.backendStore.type=database" in message


def test_pvc_artifacts_on_rwo_with_replicas_fails(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(*DATABASE, "mlflow.replicaCount=2")
    message = str(error.value)
    assert "mlflow.artifactStore.type=pvc on a volume without ReadWriteMany" in message
    assert "--set mlflow.persistence.accessModes={ReadWriteMany}" in message


def test_role_arn_without_created_account_fails(render3: Renderer) -> None:
    arn = "arn:aws:iam::123456789012:role/mlflow"
    with pytest.raises(RenderError) as error:
        render3(
            ON,
            "mlflow.serviceAccount.create=false",
            "mlflow.serviceAccount.name=ml",
            f"mlflow.serviceAccount.roleArn={arn}",
        )
    message = str(error.value)
    assert f"kubectl -n kube-system annotate serviceaccount ml eks.amazonaws.com/role-arn={arn}" in message
    assert "--set mlflow.serviceAccount.create=true" in message


# --- the schema rejects typos and malformed values -----------------------------------------


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("mlflow.backendstore.type=sqlite", "backendstore"),
        ("mlflow.backendStore.type=postgres", "type"),
        ("mlflow.artifactStore.s3.url=s3://bucket", "url"),
        ("mlflow.artifactStore.s3.uri=https://bucket.s3.amazonaws.com", "uri"),
        ("mlflow.serviceAccount.roleArn=arn:aws:iam::1234:role/mlflow", "roleArn"),
        ("mlflow.serviceAccount.roleArn=mlflow-role", "roleArn"),
        ("mlflow.persistence.sizes=10Gi", "sizes"),
        ("mlflow.persistence.size=10GB", "size"),
        ("mlflow.server.workers=0", "workers"),
        ("mlflow.service.portt=80", "portt"),
        ("mlflow.image.tags=v2", "tags"),
        ("mlflow.server.extraEnv[0].name=X,mlflow.server.extraEnv[0].value=true", "value"),
    ],
)
def test_schema_rejects(render3: Renderer, assignment: str, field: str) -> None:
    with pytest.raises(RenderError, match=field):
        render3(ON, assignment)


def test_schema_accepts_govcloud_and_china_role_arns(render3: Renderer) -> None:
    for partition in ("aws-us-gov", "aws-cn"):
        arn = f"arn:{partition}:iam::123456789012:role/path/mlflow"
        account = named(render3(ON, f"mlflow.serviceAccount.roleArn={arn}"), "ServiceAccount", NAME)
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == arn


def test_notes_say_how_to_reach_the_ui() -> None:
    helm = helm_path(4)
    result = subprocess.run(
        [
            str(helm),
            "install",
            "dependencies",
            str(charts.CHART),
            "--namespace",
            "kube-system",
            "--dry-run=client",
            "--set",
            ON,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl -n kube-system port-forward svc/dependencies-mlflow 5000:5000" in notes
    assert "http://dependencies-mlflow.kube-system.svc:5000" in notes
    assert "SQLite on PVC dependencies-mlflow-data" in notes


# --- the upstream HyperPod chart's mlflow.mlflow.serviceAccount ------------------------------


def test_upstreams_service_account_is_kept_with_its_name_and_namespace(render3: Renderer) -> None:
    theirs = {
        ident(o)
        for o in of_kind(render3(ON, chart=upstream_chart()), "ServiceAccount")
        if "mlflow" in o["metadata"]["name"]
    }
    ours = {ident(o) for o in of_kind(render3(ON), "ServiceAccount")}
    assert theirs == {CLIENT_ACCOUNT}
    assert theirs <= ours
    account = named(render3(ON), "ServiceAccount", "mlflow-service-account1")
    assert "annotations" not in account["metadata"], "no IAM role unless one is given"


def test_upstream_service_account_keys_have_their_meaning(render3: Renderer) -> None:
    arn = "arn:aws:iam::123456789012:role/hyperpod-mlflow-role"
    objects = render3(
        ON,
        "mlflow.mlflow.serviceAccount.name=trainer",
        "mlflow.mlflow.serviceAccount.namespace=team-a",
        f"mlflow.mlflow.serviceAccount.roleARN={arn}",
        "mlflow.mlflow.serviceAccount.annotations.note=x",
    )
    account = named(objects, "ServiceAccount", "trainer")
    assert account["metadata"]["namespace"] == "team-a"
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": arn, "note": "x"}
    # The tracking server keeps its own account.
    assert pod_spec(named(objects, "Deployment", NAME))["serviceAccountName"] == NAME
    assert not [
        o for o in of_kind(objects, "ServiceAccount") if o["metadata"]["name"] == "mlflow-service-account1"
    ]


def test_upstream_service_account_can_be_left_out(render3: Renderer) -> None:
    objects = render3(ON, "mlflow.mlflow.serviceAccount.create=false")
    assert {ident(o) for o in of_kind(mlflow_objects(objects), "ServiceAccount")} == {
        ("ServiceAccount", "kube-system", NAME)
    }


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("mlflow.mlflow.serviceAccount.roleArn=arn:aws:iam::123456789012:role/x", "roleArn"),
        ("mlflow.mlflow.serviceAcount.name=x", "serviceAcount"),
        ("mlflow.mlflow.serviceAccount.roleARN=role/x", "roleARN"),
        ("mlflow.mlflow.serviceAccount.namespace=Team_A", "namespace"),
    ],
)
def test_schema_rejects_typos_in_upstream_keys(render3: Renderer, assignment: str, field: str) -> None:
    with pytest.raises(RenderError, match=field):
        render3(ON, assignment)
