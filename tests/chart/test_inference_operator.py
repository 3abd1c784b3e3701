"""The HyperPod inference operator (inferenceOperators.enabled): the render matrix.

Required values and their messages, the image of every region and the precedence of the
rules that choose it, the CRDs as AWS publishes them, the six prerequisites, and the upstream
contract: with the same values, upstream's inference operator chart (2.2.2, its dependency
charts left out) renders the same objects, under the same names, with the same environment
and grants, and upstream's own values file is accepted unchanged.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from hyperpod_deps.chart.checks import run_checks
from hyperpod_deps.chart.cluster_prerequisites import Sign, declared, findings
from hyperpod_deps.chart.render import RenderError
from hyperpod_deps.cli.main import cli
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import SUBCHARTS, Renderer, named, of_kind, pod_spec
from tests.support.upstream import UPSTREAM_CHART, requires_upstream

COMPONENT = "hyperpod-inference-operator"
NAMESPACE = "hyperpod-inference-system"
MANAGER = "hyperpod-inference-operator-controller-manager"
GROUP = "inference.sagemaker.aws.amazon.com"
CRDS = {f"{plural}.{GROUP}": kind for plural, kind in [
    ("inferenceendpointconfigs", "InferenceEndpointConfig"),
    ("jumpstartmodels", "JumpStartModel"),
    ("sagemakerendpointregistrations", "SageMakerEndpointRegistration"),
]}
GENERATED = SUBCHARTS / COMPONENT / "files/crds"
UPSTREAM_SUBCHART = UPSTREAM_CHART / "charts/inference-operator"
# AWS's registries of the operator image, per region (upstream 2.2.2's map).
REGION_ACCOUNTS = {
    "us-east-1": "557690614651", "us-east-2": "061051259071", "us-west-1": "183295454132",
    "us-west-2": "861276088053", "sa-east-1": "495599735358", "eu-central-1": "491085393763",
    "eu-north-1": "850995554027", "eu-south-2": "025050981094", "eu-west-1": "537124951544",
    "eu-west-2": "337909760000", "ap-northeast-1": "724772091842", "ap-south-1": "522814713546",
    "ap-southeast-1": "474668384327", "ap-southeast-2": "147997151819",
    "ap-southeast-3": "158128612970", "ap-southeast-4": "311141544681",
}
ROLE = "arn:aws:iam::123456789012:role/SageMakerHyperPodInferenceRole"
REQUIRED = {
    "region": "us-west-2",
    "eksClusterName": "hp-eks",
    "executionRoleArn": ROLE,
    "tlsCertificateS3Bucket": "my-tls-bucket",
}
ON = "inferenceOperators.enabled=true"


def required(**overrides: str) -> list[str]:
    values = {**REQUIRED, **overrides}
    return [ON, *(f"{COMPONENT}.{key}={value}" for key, value in values.items() if value)]


def ours(objects: list[Manifest]) -> list[Manifest]:
    return [o for o in objects
            if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == COMPONENT]


def images(objects: list[Manifest]) -> list[str]:
    spec = pod_spec(named(objects, "Deployment", MANAGER))
    return [c["image"] for c in [*spec["initContainers"], *spec["containers"]]]


def manager_env(objects: list[Manifest]) -> dict[str, str]:
    container = pod_spec(named(objects, "Deployment", MANAGER))["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def test_off_by_default_renders_nothing_of_it(render3: Renderer) -> None:
    assert ours(render3()) == []


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_each_missing_required_value_is_named_with_its_set(render3: Renderer, missing: str) -> None:
    with pytest.raises(RenderError) as error:
        render3(*required(**{missing: ""}))
    message = str(error.value)
    assert "inferenceOperators.enabled=true needs 1 more value(s)" in message
    assert f"--set {COMPONENT}.{missing}=" in message
    others = set(REQUIRED) - {missing}
    assert not any(f"--set {COMPONENT}.{other}=" in message for other in others)


def test_all_missing_values_are_named_at_once_with_where_to_find_them(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(ON)
    message = str(error.value)
    assert "needs 4 more value(s)" in message
    assert "aws iam get-role --role-name <name> --query Role.Arn" in message
    assert "aws eks list-clusters" in message


def test_an_add_on_install_needs_the_managed_role_prefix(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="must start with SageMakerHyperPodInference"):
        render3(*required(executionRoleArn="arn:aws:iam::123456789012:role/other"),
                f"{COMPONENT}.isAddOn=true")
    assert ours(render3(*required(), f"{COMPONENT}.isAddOn=true"))


@pytest.mark.parametrize("region", sorted(REGION_ACCOUNTS))
def test_every_region_pulls_both_images_from_its_registry(render3: Renderer, region: str) -> None:
    registry = f"{REGION_ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com"
    objects = render3(*required(region=region))
    assert images(objects) == [f"{registry}/hyperpod-inference-operator-init-container:v1.0",
                               f"{registry}/hyperpod-inference-operator:v3.2"]
    env = manager_env(objects)
    assert env["AWS_REGION"] == region
    assert f"region {region}" in named(objects, "PersistentVolume", "s3-pv")["spec"]["mountOptions"]


def test_the_region_comes_from_global_region_when_its_own_is_unset(render3: Renderer) -> None:
    objects = render3(*required(region=""), "global.region=eu-west-1")
    assert images(objects)[1].startswith("537124951544.dkr.ecr.eu-west-1.amazonaws.com/")


def test_its_own_region_wins_over_global_region(render3: Renderer) -> None:
    objects = render3(*required(region="ap-south-1"), "global.region=eu-west-1")
    assert images(objects)[1].startswith("522814713546.dkr.ecr.ap-south-1.amazonaws.com/")


def test_an_explicit_registry_wins_over_every_region(render3: Renderer) -> None:
    objects = render3(*required(), "global.region=eu-west-1",
                      f"{COMPONENT}.image.repository=mirror.example/aws/")
    assert images(objects) == ["mirror.example/aws/hyperpod-inference-operator-init-container:v1.0",
                               "mirror.example/aws/hyperpod-inference-operator:v3.2"]


def test_a_region_added_to_the_map_is_used(render3: Renderer) -> None:
    objects = render3(*required(region="me-central-1"),
                      f"{COMPONENT}.image.repositoryDomainMap.me-central-1=mirror.example")
    assert images(objects)[1] == "mirror.example/hyperpod-inference-operator:v3.2"


def test_a_region_without_an_image_fails_listing_the_regions_that_have_one(render3: Renderer) -> None:
    with pytest.raises(RenderError) as error:
        render3(*required(region="me-central-1"))
    message = str(error.value)
    assert "no operator image is published for me-central-1" in message
    assert "Regions with an image: " + ", ".join(sorted(REGION_ACCOUNTS)) in message
    assert f"--set {COMPONENT}.image.repository=<your registry>" in message


def test_the_tls_bucket_gets_its_s3_scheme_once(render3: Renderer) -> None:
    for given in ("my-tls-bucket", "s3://my-tls-bucket"):
        objects = render3(*required(tlsCertificateS3Bucket=given))
        env = manager_env(objects)
        assert env["TLS_CERTIFICATE_OUTPUT_S3URI"] == "s3://my-tls-bucket"
        volume = named(objects, "PersistentVolume", "s3-pv")
        assert volume["spec"]["csi"]["volumeAttributes"]["bucketName"] == "my-tls-bucket"


def test_the_crds_are_the_generated_data_with_the_operators_conversion_webhook(render3: Renderer) -> None:
    objects = render3(*required())
    rendered = {crd["metadata"]["name"]: crd for crd in of_kind(ours(objects), "CustomResourceDefinition")}
    assert set(rendered) == set(CRDS)
    for name, crd in rendered.items():
        spec = dict(crd["spec"])
        conversion = spec.pop("conversion")
        assert spec == yaml.safe_load((GENERATED / f"{name}.yaml").read_text())
        assert spec["names"]["kind"] == CRDS[name]
        assert conversion["webhook"]["clientConfig"]["service"] == {
            "name": "hyperpod-inference-operator-conversion-webhook", "namespace": NAMESPACE,
            "path": "/convert"}
        annotations = crd["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/serving-cert"
        assert annotations["helm.sh/resource-policy"] == "keep"
        assert [v["name"] for v in spec["versions"] if v["storage"]] == ["v1"]


def test_the_operators_namespace_is_kept_and_restricted(render3: Renderer) -> None:
    namespace = named(render3(*required()), "Namespace", NAMESPACE)
    assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_crds_keep_false_lets_uninstall_delete_them(render3: Renderer) -> None:
    objects = ours(render3(*required(), f"{COMPONENT}.crds.keep=false"))
    for crd in of_kind(objects, "CustomResourceDefinition"):
        assert "helm.sh/resource-policy" not in crd["metadata"]["annotations"]


@requires_upstream
def test_the_generated_crds_are_awss_published_ones_less_descriptions() -> None:
    def prose_free(node: Any, named_schemas: bool = False) -> Any:
        if isinstance(node, list):
            return [prose_free(item) for item in node]
        if not isinstance(node, dict):
            return node
        if named_schemas:
            return {key: prose_free(value) for key, value in node.items()}
        return {key: prose_free(value, key in ("properties", "patternProperties"))
                for key, value in node.items() if key != "description"}

    for source in sorted((UPSTREAM_SUBCHART / "config/crd").glob("*.yaml")):
        published = yaml.safe_load(source.read_text())
        generated = yaml.safe_load((GENERATED / f"{published['metadata']['name']}.yaml").read_text())
        expected = prose_free(published["spec"])
        expected.pop("conversion")
        assert generated == expected


def test_the_prerequisites_are_declared_with_signs_and_commands(render3: Renderer) -> None:
    needed = declared(render3(*required(), f"{COMPONENT}.alb.vpcId=vpc-0abc",
                                f"{COMPONENT}.keda.podIdentity.aws.irsa.roleArn=arn:aws:iam::123456789012:role/keda"))
    assert [p.name for p in needed] == ["mountpoint-s3-csi-driver", "metrics-server", "fsx-csi-driver",
                                        "aws-load-balancer-controller", "cert-manager", "keda"]
    commands = {p.name: p.command for p in needed}
    assert "--set vpcId=vpc-0abc" in commands["aws-load-balancer-controller"]
    assert "--set clusterName=hp-eks --set region=us-west-2" in commands["aws-load-balancer-controller"]
    assert "roleArn=arn:aws:iam::123456789012:role/keda" in commands["keda"]
    assert commands["mountpoint-s3-csi-driver"].endswith(
        f"--service-account-role-arn <{COMPONENT}.s3.serviceAccountRoleArn>")
    signs = {p.name: p.signs for p in needed}
    assert Sign("CSIDriver", "s3.csi.aws.com") in signs["mountpoint-s3-csi-driver"]
    assert Sign("CustomResourceDefinition", "certificates.cert-manager.io") in signs["cert-manager"]


def test_alb_and_keda_turned_off_are_not_required(render3: Renderer) -> None:
    needed = declared(render3(*required(), f"{COMPONENT}.alb.enabled=false",
                              f"{COMPONENT}.keda.enabled=false"))
    assert [p.name for p in needed] == ["mountpoint-s3-csi-driver", "metrics-server", "fsx-csi-driver",
                                        "cert-manager"]


def test_a_prerequisite_is_missing_until_every_sign_is_present(render3: Renderer) -> None:
    needed = [p for p in declared(render3(*required())) if p.name == "keda"]
    crd, deployment = needed[0].signs
    assert [f.message for f in findings(needed, frozenset({crd}))] == [
        f"{COMPONENT} needs KEDA, which this chart does not install, and the cluster lacks {deployment}"]
    assert findings(needed, frozenset({crd, deployment})) == []


def test_the_pod_meets_the_restricted_pod_security_standard(render3: Renderer) -> None:
    spec = pod_spec(named(render3(*required()), "Deployment", MANAGER))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in [*spec["initContainers"], *spec["containers"]]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
        assert context["readOnlyRootFilesystem"] is True
        assert container["resources"]["requests"]


# The upstream contract: upstream's chart, its dependency charts left out (none can be fetched).

UPSTREAM_ONLY_VALUES = [  # what upstream's own validation demands for its dependency charts
    "s3.serviceAccountRoleArn=arn:aws:iam::123456789012:role/s3",
    "keda.podIdentity.aws.irsa.roleArn=arn:aws:iam::123456789012:role/keda",
    "alb.vpcId=vpc-0abc",
]


@pytest.fixture(scope="module")
def upstream_render(tmp_path_factory: pytest.TempPathFactory, helm3: Path) -> list[Manifest]:
    if not UPSTREAM_SUBCHART.is_dir():
        pytest.skip(f"the upstream reference chart is not at {UPSTREAM_CHART}")
    copy = tmp_path_factory.mktemp("upstream") / "inference-operator"
    shutil.copytree(UPSTREAM_SUBCHART, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    metadata = yaml.safe_load((copy / "Chart.yaml").read_text())
    metadata.pop("dependencies")
    (copy / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    (copy / "Chart.lock").unlink()
    settings = [f"{key}={value}" for key, value in REQUIRED.items()] + UPSTREAM_ONLY_VALUES
    return Renderer(helm3)(*settings, chart=copy)


def identity(obj: Manifest) -> tuple[str, str, str]:
    cluster_scoped = obj["kind"] in ("Namespace", "PersistentVolume", "CustomResourceDefinition",
                                     "ClusterRole", "ClusterRoleBinding")
    namespace = "" if cluster_scoped else obj["metadata"].get("namespace") or "kube-system"
    return obj["kind"], namespace, obj["metadata"]["name"]


def test_the_same_objects_as_upstream_plus_the_prerequisites_configmap(
        render3: Renderer, upstream_render: list[Manifest]) -> None:
    mine = {identity(o) for o in ours(render3(*required()))}
    assert mine - {identity(o) for o in upstream_render} == {
        ("ConfigMap", NAMESPACE, "hyperpod-inference-operator-prerequisites")}
    assert {identity(o) for o in upstream_render} - mine == set()


def test_the_operator_gets_upstreams_arguments_and_environment(
        render3: Renderer, upstream_render: list[Manifest]) -> None:
    theirs = pod_spec(named(upstream_render, "Deployment", MANAGER))["containers"][0]
    mine = pod_spec(named(render3(*required()), "Deployment", MANAGER))["containers"][0]
    assert mine["env"] == [{**e, "value": str(e.get("value") or "")} for e in theirs["env"]]
    for key in ("command", "args", "ports", "livenessProbe", "readinessProbe", "startupProbe", "image"):
        assert mine[key] == theirs[key], key
    assert named(render3(*required()), "Deployment", MANAGER)["spec"]["selector"] == \
        named(upstream_render, "Deployment", MANAGER)["spec"]["selector"]


def test_every_role_grants_what_upstreams_grants(render3: Renderer, upstream_render: list[Manifest]) -> None:
    def grants(role: Manifest) -> set[tuple[str, str, str]]:
        return {(group, resource, verb) for rule in role["rules"] for group in rule.get("apiGroups", [])
                for resource in rule["resources"] for verb in rule["verbs"]}

    mine = {identity(o): o for o in render3(*required()) if o["kind"] in ("ClusterRole", "Role")}
    for role in (o for o in upstream_render if o["kind"] in ("ClusterRole", "Role")):
        assert grants(mine[identity(role)]) == grants(role), role["metadata"]["name"]


@requires_upstream
def test_upstreams_values_file_is_accepted_unchanged(render3: Renderer, tmp_path: Path) -> None:
    upstream_values = yaml.safe_load((UPSTREAM_SUBCHART / "values.yaml").read_text())
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"inferenceOperators": {"enabled": True}, COMPONENT: upstream_values}))
    objects = render3(*required()[1:], values_files=[values])
    assert {identity(o) for o in ours(objects)} >= {("Deployment", NAMESPACE, MANAGER)}


def test_a_misspelt_key_is_refused_by_the_schema(render3: Renderer) -> None:
    with pytest.raises(RenderError, match="exectionRoleArn"):
        render3(*required(), f"{COMPONENT}.exectionRoleArn={ROLE}")


def test_the_prerequisites_configmap_holds_json(render3: Renderer) -> None:
    configmap = named(render3(*required()), "ConfigMap", "hyperpod-inference-operator-prerequisites")
    assert len(json.loads(configmap["data"]["prerequisites.json"])) == 6


def test_plan_lists_what_the_operator_needs_with_each_command() -> None:
    settings = [arg for assignment in required() for arg in ("--set", assignment)]
    result = CliRunner().invoke(cli, ["plan", "--json", "--helm", str(helm_path(3)), *settings])
    assert result.exit_code == 0, result.output
    entry = next(e for e in json.loads(result.output) if e["component"] == COMPONENT)
    assert entry["objects"]["CustomResourceDefinition"] == 3 and entry["objects"]["Deployment"] == 1
    assert [need["what"] for need in entry["needs"]] == [
        "Mountpoint for Amazon S3 CSI driver", "metrics-server", "Amazon FSx for Lustre CSI driver",
        "AWS Load Balancer Controller", "cert-manager", "KEDA"]
    assert entry["needs"][4]["command"].startswith("helm install cert-manager cert-manager --repo ")
    text = CliRunner().invoke(cli, ["plan", "--helm", str(helm_path(3)), *settings]).output
    assert "NEEDS (NOT INSTALLED BY THE CHART)" in text


@pytest.mark.parametrize("version", [f"1.{minor}.0" for minor in range(29, 38)])
def test_every_builtin_object_is_valid_kubernetes(render3: Renderer, version: str) -> None:
    errors = []
    for obj in ours(render3(*required())):
        if obj["apiVersion"] == "cert-manager.io/v1":
            continue  # cert-manager's kinds: no bundled schema, and the stand-in CRDs accept anything
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert not errors, "\n".join(errors)


def test_the_project_checks_find_only_upstreams_wildcard_grant(render3: Renderer) -> None:
    """The operator's ClusterRole keeps upstream's wildcard rule (docs/inference-operator.md):
    the project's checks flag it, and nothing else of the component."""
    findings = [str(f) for f in run_checks(ours(render3(*required())))]
    assert findings == [
        "ClusterRole/hyperpod-inference-operator-manager-role: rule 3: wildcard verb [rbac]",
        "ClusterRole/hyperpod-inference-operator-manager-role: rule 3: wildcard in resources [rbac]",
    ]


def test_helm_3_and_4_render_the_same_objects(helm3: Path) -> None:
    """The same objects; the order of the documents differs between the two (Helm sorts by
    kind when it installs)."""
    def by_identity(objects: list[Manifest]) -> dict[tuple[str, str, str], Manifest]:
        return {identity(obj): obj for obj in objects}

    assert by_identity(Renderer(helm_path(4))(*required())) == by_identity(Renderer(helm3)(*required()))


# checkov on the component's objects: what it finds, and why each is left.
CHECKOV_ACCEPTED = {
    # AWS publishes the operator by tag (v3.2); no digest is published to pin. image.repository
    # can point at a mirror that pins one.
    ("CKV_K8S_43", "Deployment/hyperpod-inference-operator-controller-manager"),
    # The operator is a controller: it talks to the API server with its ServiceAccount's token.
    ("CKV_K8S_38", "Deployment/hyperpod-inference-operator-controller-manager"),
    # No NetworkPolicy: the conversion webhook must admit the API server, whose source address
    # no namespace or pod selector names; upstream renders none either.
    ("CKV2_K8S_6", "Pod/hyperpod-inference-operator-controller-manager"),
}


def test_checkov_finds_only_the_accepted(render3: Renderer, tmp_path: Path) -> None:
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not checkov or not Path(checkov).exists():
        pytest.fail("checkov is not installed: run the tests through `make test`")
    (tmp_path / "inference.yaml").write_text(yaml.safe_dump_all(ours(render3(*required()))))
    result = subprocess.run(
        [checkov, "--directory", str(tmp_path), "--framework", "kubernetes", "--skip-download",
         "--output", "json", "--quiet", "--compact"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"})
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    found = {(check["check_id"], "/".join(check["resource"].split(".")[0:3:2]))
             for entry in (report if isinstance(report, list) else [report])
             for check in entry.get("results", {}).get("failed_checks", [])}
    assert found == CHECKOV_ACCEPTED
