"""The HyperPod inference operator on the real local control plane.

Preflight names each of its six prerequisites while the cluster lacks it, with the command
that installs it, and passes once stand-ins carry every sign it looks for (the real operators'
CRDs, CSIDrivers, webhook configuration and Deployments, by name and label; none of them can be
fetched here). Then the documented `helm install` puts the operator's objects and CRDs on the
cluster, the API server accepts AWS's sample manifests (config/samples of upstream's chart)
with strict field validation and refuses broken ones, and uninstalling keeps the CRDs.

What is not exercised: the operator itself. Its image is in AWS's ECR, which these machines
cannot reach, so its pod never starts here and the conversion webhook is never called (the
samples are all v1, the stored version, which needs no conversion).
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hyperpod_deps.cli.preflight import preflight_command
from tests.support.helm_support import NAMESPACE, RELEASE, HelmCli
from tests.support.kube_support import ApiObject, Kube
from tests.support.upstream import UPSTREAM_CHART
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e]

COMPONENT = "hyperpod-inference-operator"
OPERATOR_NAMESPACE = "hyperpod-inference-system"
MANAGER = "hyperpod-inference-operator-controller-manager"
SAMPLES = UPSTREAM_CHART / "charts/inference-operator/config/samples"
SAMPLE_NAMESPACE = "ns-team-a"  # where AWS's samples put their objects
GROUP = "inference.sagemaker.aws.amazon.com"
CRDS = [f"{plural}.{GROUP}" for plural in
        ("inferenceendpointconfigs", "jumpstartmodels", "sagemakerendpointregistrations")]
REQUIRED = ("inferenceOperators.enabled=true", f"{COMPONENT}.region=us-west-2",
            f"{COMPONENT}.eksClusterName=hp-eks",
            f"{COMPONENT}.executionRoleArn=arn:aws:iam::123456789012:role/SageMakerHyperPodInferenceRole",
            f"{COMPONENT}.tlsCertificateS3Bucket=s3://my-tls-bucket")
# What preflight says of each prerequisite (its `what`), and the start of its install command.
PREREQUISITES = {
    "Mountpoint for Amazon S3 CSI driver": "aws eks create-addon --cluster-name hp-eks --addon-name "
                                           "aws-mountpoint-s3-csi-driver",
    "metrics-server": "helm install metrics-server metrics-server --repo "
                      "https://kubernetes-sigs.github.io/metrics-server/ --version 3.12.2",
    "Amazon FSx for Lustre CSI driver": "helm install aws-fsx-csi-driver aws-fsx-csi-driver --repo https://"
                                        "kubernetes-sigs.github.io/aws-fsx-csi-driver --version 1.11.0",
    "AWS Load Balancer Controller": "helm install aws-load-balancer-controller aws-load-balancer-controller "
                                    "--repo https://aws.github.io/eks-charts --version 1.13.2",
    "cert-manager": "helm install cert-manager cert-manager --repo https://charts.jetstack.io "
                    "--version v1.18.2",
    "KEDA": "helm install keda keda --repo https://kedacore.github.io/charts --version 2.17.1",
}
STAND_IN_CRDS = {  # name: (kind, scope)
    "certificates.cert-manager.io": ("Certificate", "Namespaced"),
    "certificaterequests.cert-manager.io": ("CertificateRequest", "Namespaced"),
    "issuers.cert-manager.io": ("Issuer", "Namespaced"),
    "targetgroupbindings.elbv2.k8s.aws": ("TargetGroupBinding", "Namespaced"),
    "ingressclassparams.elbv2.k8s.aws": ("IngressClassParams", "Cluster"),
    "scaledobjects.keda.sh": ("ScaledObject", "Namespaced"),
}
STAND_IN_DEPLOYMENTS = {  # name: labels, as each dependency's chart labels its Deployment
    "metrics-server": {"app.kubernetes.io/name": "metrics-server"},
    "aws-load-balancer-controller": {"app.kubernetes.io/name": "aws-load-balancer-controller"},
    "cert-manager": {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"},
    "keda-operator": {"app.kubernetes.io/name": "keda-operator"},
}
PREREQUISITES_NAMESPACE = "inference-prerequisites"
US_WEST_2 = "861276088053.dkr.ecr.us-west-2.amazonaws.com"  # the local cluster's nodes' region

requires_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"AWS's samples are not at {SAMPLES}")


def stand_in_crd(name: str, kind: str, scope: str) -> ApiObject:
    plural, group = name.split(".", 1)
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}]}}


def stand_in_deployment(name: str, labels: dict[str, str]) -> ApiObject:
    """Never runs (no replicas): preflight looks for the Deployment, not its pods."""
    container = {"name": "stand-in", "image": "stand-in"}
    pod = {"metadata": {"labels": labels}, "spec": {"containers": [container]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": PREREQUISITES_NAMESPACE, "labels": labels},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": pod}}


def stand_ins() -> list[ApiObject]:
    csi = [{"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": name},
            "spec": {"attachRequired": False}} for name in ("s3.csi.aws.com", "fsx.csi.aws.com")]
    webhook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
               "metadata": {"name": "aws-load-balancer-webhook"}, "webhooks": []}
    return [*(stand_in_crd(name, *shape) for name, shape in STAND_IN_CRDS.items()), *csi, webhook,
            *(stand_in_deployment(name, labels) for name, labels in STAND_IN_DEPLOYMENTS.items())]


def preflight(helm: HelmCli) -> tuple[int, list[dict[str, str]]]:
    args = ["--helm", str(helm.binary), "--kubeconfig", helm.env["KUBECONFIG"], "--skip-access-check",
            "--json"]
    for assignment in REQUIRED:
        args += ["--set", assignment]
    result = CliRunner().invoke(preflight_command, args)
    return result.exit_code, json.loads(result.stdout)["prerequisites"]


def create(kube: Kube, obj: ApiObject) -> None:
    kube.create(obj)
    if obj["kind"] == "CustomResourceDefinition":
        established(kube, obj["metadata"]["name"])


def established(kube: Kube, name: str) -> None:
    poll(lambda: kube.get("customresourcedefinition", name),
         lambda live: live is not None and any(c["type"] == "Established" and c["status"] == "True"
                                               for c in live.get("status", {}).get("conditions") or []),
         f"CRD {name} established", 60)


def delete_all(kube: Kube, objects: list[ApiObject]) -> None:
    for obj in reversed(objects):
        namespace = obj["metadata"].get("namespace")
        kube.delete(obj["kind"].lower(), [obj["metadata"]["name"]], namespace)
        kube.wait_gone(obj["kind"].lower(), [obj["metadata"]["name"]], namespace)


@pytest.fixture(scope="module")
def prerequisites_namespace(kube: Kube) -> Iterator[str]:
    kube.wait_no_namespace_terminating()
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PREREQUISITES_NAMESPACE}})
    yield PREREQUISITES_NAMESPACE
    kube.delete("namespace", [PREREQUISITES_NAMESPACE])


def test_preflight_names_each_missing_prerequisite_until_stand_ins_exist(
        helm3_cli: HelmCli, kube: Kube, prerequisites_namespace: str) -> None:
    exit_code, found = preflight(helm3_cli)
    assert exit_code == 1
    for what, command in PREREQUISITES.items():
        matching = [p for p in found if p["message"].startswith(f"{COMPONENT} needs {what}, ")]
        assert len(matching) == 1, (what, found)
        assert matching[0]["fix"].startswith(f"install it first: `{command}")
    made: list[ApiObject] = []
    try:
        for obj in stand_ins():
            create(kube, obj)
            made.append(obj)
        exit_code, found = preflight(helm3_cli)
        assert (exit_code, found) == (0, [])
        # One sign gone is enough to fail again, naming only what is missing.
        kube.delete("deployment", ["keda-operator"], PREREQUISITES_NAMESPACE)
        kube.wait_gone("deployment", ["keda-operator"], PREREQUISITES_NAMESPACE)
        exit_code, found = preflight(helm3_cli)
        assert exit_code == 1
        assert [p["message"] for p in found] == [
            f"{COMPONENT} needs KEDA, which this chart does not install, and the cluster lacks a Deployment "
            "labelled app.kubernetes.io/name=keda-operator"]
    finally:
        delete_all(kube, made)


def test_the_region_comes_from_the_nodes_when_none_is_set(helm3_cli: HelmCli, kube: Kube) -> None:
    """Helm's lookup reads the nodes' region label only against a cluster: a server-side dry run
    (cert-manager's CRDs stand in, so that the Certificate's kind is served)."""
    regions = {node["metadata"]["labels"].get("topology.kubernetes.io/region")
               for node in kube.cluster_items("nodes")}
    assert regions == {"us-west-2"}
    made: list[ApiObject] = []
    try:
        for name in ("certificates.cert-manager.io", "issuers.cert-manager.io"):
            obj = stand_in_crd(name, *STAND_IN_CRDS[name])
            create(kube, obj)
            made.append(obj)
        args = [arg for assignment in REQUIRED if not assignment.startswith(f"{COMPONENT}.region=")
                for arg in ("--set", assignment)]
        release = json.loads(helm3_cli.run("install", RELEASE, "helm_chart/HyperPodHelmChart", "--namespace",
                                           NAMESPACE, "--dry-run=server", "--output", "json", *args).stdout)
    finally:
        delete_all(kube, made)
    manager = next(obj for obj in yaml.safe_load_all(release["manifest"])
                   if obj and obj["kind"] == "Deployment" and obj["metadata"]["name"] == MANAGER)
    container = manager["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{US_WEST_2}/hyperpod-inference-operator:v3.2"
    assert {"name": "AWS_REGION", "value": "us-west-2"} in container["env"]
    assert "region from the nodes' topology.kubernetes.io/region label" in release["info"]["notes"]


@pytest.fixture(scope="module")
def installed_with_stand_ins(helm3_cli: HelmCli, kube: Kube, prerequisites_namespace: str,
                             helm4_cli: HelmCli) -> Iterator[str]:
    """The chart installed as documented, on a cluster with the stand-ins; the install's output."""
    made: list[ApiObject] = []
    for release_namespace in [NAMESPACE]:
        helm4_cli.uninstall(RELEASE, release_namespace)
    try:
        for obj in stand_ins():
            create(kube, obj)
            made.append(obj)
        args = [arg for assignment in REQUIRED for arg in ("--set", assignment)]
        output = helm3_cli.run("install", RELEASE, "helm_chart/HyperPodHelmChart", "--namespace", NAMESPACE,
                               *args).stdout
        yield output
    finally:
        helm4_cli.uninstall(RELEASE, NAMESPACE)
        kube.delete("customresourcedefinition", CRDS)
        kube.wait_gone("customresourcedefinition", CRDS)
        kube.delete("persistentvolume", ["s3-pv"])
        kube.delete("namespace", [OPERATOR_NAMESPACE])
        kube.wait_gone("namespace", [OPERATOR_NAMESPACE], timeout_seconds=120)
        delete_all(kube, made)


def test_the_install_creates_the_operator_its_crds_and_its_volume(installed_with_stand_ins: str,
                                                                   kube: Kube) -> None:
    for name in CRDS:
        established(kube, name)
    deployment = kube.get("deployment", MANAGER, OPERATOR_NAMESPACE)
    assert deployment is not None
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [f"{US_WEST_2}/hyperpod-inference-operator:v3.2"]
    for kind, name in [("service", f"{COMPONENT}-conversion-webhook"), ("certificate", "serving-cert"),
                       ("issuer", "selfsigned-issuer"), ("serviceaccount", MANAGER)]:
        assert kube.exists(kind, name, OPERATOR_NAMESPACE), (kind, name)
    claim = poll(lambda: kube.get("persistentvolumeclaim", "s3-claim", NAMESPACE),
                 lambda live: live is not None and live["status"].get("phase") == "Bound",
                 "claim s3-claim bound to s3-pv", 60)
    assert claim is not None and claim["spec"]["volumeName"] == "s3-pv"


def test_the_install_notes_list_what_the_operator_needs(installed_with_stand_ins: str) -> None:
    assert f"{COMPONENT}: Deployment {MANAGER} in {OPERATOR_NAMESPACE}" in installed_with_stand_ins
    for what, command in PREREQUISITES.items():
        assert f"{what}: {command}" in installed_with_stand_ins


def samples() -> list[Path]:
    return sorted(SAMPLES.glob("*.yaml")) if SAMPLES.is_dir() else []


def strict_create(kube: Kube, obj: ApiObject) -> tuple[int, str]:
    result = kube.run("create", "--validate=strict", "--dry-run=server", "-f", "-", stdin=json.dumps(obj),
                      check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def sample_namespace(kube: Kube, installed_with_stand_ins: str) -> Iterator[str]:
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SAMPLE_NAMESPACE}})
    yield SAMPLE_NAMESPACE
    kube.delete("namespace", [SAMPLE_NAMESPACE])


# The samples' placeholders, filled as a user would (with the values their comments suggest).
PLACEHOLDERS = {
    "<PLACEHOLDER_MODEL_STORAGE_BUCKET>": "model-bucket",
    "<PLACEHOLDER_TLS_CERT_S3_URI>": "s3://tls-certs-bucket/certs",
    "<PLACEHOLDER_L2_CACHE_LOCAL_URL>": "redis://redis.ns-team-a.svc.cluster.local:6379",
}
# Samples the published CRDs refuse as they are: what the API server says, and the fields that,
# taken out, make the sample valid (None: nothing can, the kind is not defined).
STALE_SAMPLES: dict[str, tuple[str, list[str] | None]] = {
    "v1_modeldeployment": ('no matches for kind "ModelDeployment"', None),
    "v1_deepseek_model15b": ('unknown field "spec.server.maxAutoScaleReplicas", '
                             'unknown field "spec.server.minAutoScaleReplicas"',
                             ["maxAutoScaleReplicas", "minAutoScaleReplicas"]),
}


def sample_object(path: Path) -> ApiObject:
    text = path.read_text()
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    obj: ApiObject = yaml.safe_load(text)
    return obj


@requires_samples
@pytest.mark.parametrize("sample", samples(), ids=lambda path: path.stem)
def test_awss_samples_are_accepted_with_strict_field_validation(sample: Path, kube: Kube,
                                                               sample_namespace: str) -> None:
    obj = sample_object(sample)
    code, output = strict_create(kube, obj)
    if sample.stem not in STALE_SAMPLES:
        assert code == 0, output
        return
    refusal, stale_fields = STALE_SAMPLES[sample.stem]
    assert code != 0 and refusal in output, output
    if stale_fields is not None:
        for field in stale_fields:
            del obj["spec"]["server"][field]
        code, output = strict_create(kube, obj)
        assert code == 0, output


def broken(obj: ApiObject, change: Callable[[dict[str, Any]], None]) -> ApiObject:
    changed = copy.deepcopy(obj)
    change(changed["spec"])
    return changed


@requires_samples
def test_broken_samples_are_refused(kube: Kube, sample_namespace: str) -> None:
    endpoint = sample_object(SAMPLES / "v1_s3_modeldeployment.yaml")
    assert strict_create(kube, endpoint)[0] == 0
    cases = [
        (broken(endpoint, lambda spec: spec.update(modelNmae=spec["modelName"])),
         'unknown field "spec.modelNmae"'),
        (broken(endpoint, lambda spec: spec.pop("worker")), "spec.worker: Required value"),
        (broken(endpoint, lambda spec: spec["modelSourceConfig"].update(modelSourceType="ftp")),
         "spec.modelSourceConfig.modelSourceType: Unsupported value"),
        (broken(endpoint, lambda spec: spec.update(replicas="two")), "spec.replicas: Invalid value"),
    ]
    for obj, refusal in cases:
        code, output = strict_create(kube, obj)
        assert code != 0 and refusal in output, (refusal, output)


def test_uninstall_keeps_the_crds_and_the_namespace(helm4_cli: HelmCli, kube: Kube,
                                                    installed_with_stand_ins: str) -> None:
    helm4_cli.uninstall(RELEASE, NAMESPACE)
    kube.wait_gone("deployment", [MANAGER], OPERATOR_NAMESPACE)
    for name in CRDS:
        assert kube.exists("customresourcedefinition", name), name
    assert kube.exists("namespace", OPERATOR_NAMESPACE)
