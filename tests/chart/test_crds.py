"""The Kubeflow job CRDs: generated, structural, valid, and right about real jobs."""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from hyperpod_deps.chart.render import RenderRequest, render_text
from hyperpod_deps.core.manifest import Manifest
from tests.support.charts import CHART, ROOT

JOBS = ROOT / "tests/data/jobs"
VALID_JOBS = sorted((JOBS / "valid").glob("*.yaml"))
INVALID_JOBS = sorted((JOBS / "invalid").glob("*.yaml"))

TRAINING_CRDS = {
    "pytorchjobs.kubeflow.org",
    "tfjobs.kubeflow.org",
    "xgboostjobs.kubeflow.org",
    "paddlejobs.kubeflow.org",
}
ALL_CRDS = TRAINING_CRDS | {"mpijobs.kubeflow.org"}

# Formats the API server and controller-gen agree on (see hack/crds_k8s.py).
CRD_FORMATS = {"int32", "int64", "date-time", "byte"}
SCALARS = {"string", "integer", "number", "boolean"}


# The C YAML parser where PyYAML has it: the CRDs are about 1 MB of YAML.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def rendered_crds(helm: Path, *set_values: str) -> list[Manifest]:
    text = render_text(helm, RenderRequest(chart=CHART, set_values=set_values))
    documents = yaml.load_all(text, Loader=LOADER)
    return [d for d in documents if d and d["kind"] == "CustomResourceDefinition"]


@pytest.fixture(scope="module")
def crds(helm3: Path) -> dict[str, Manifest]:
    return {crd["metadata"]["name"]: crd for crd in rendered_crds(helm3)}


# ---------------------------------------------------------------- generator


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "hack/gen_crds.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_crds", ROOT / "hack/gen_crds.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_reports_an_edited_and_an_extra_file(tmp_path: Path) -> None:
    gen = _generator()
    folder = tmp_path / "files/crds"
    folder.mkdir(parents=True)
    edited = folder / "pytorchjobs.kubeflow.org.yaml"
    edited.write_text("edited by hand\n")
    (folder / "stray.yaml").write_text("{}\n")
    gen.TARGETS = {folder: gen.TRAINING_OPERATOR_KINDS[:1]}
    gen.ROOT = tmp_path
    problems = gen.stale(gen.expected_files())
    assert problems == [
        "files/crds/pytorchjobs.kubeflow.org.yaml differs from the generator's output",
        "files/crds/stray.yaml is not generated: remove it",
    ]


def test_generation_is_deterministic() -> None:
    gen = _generator()
    first = gen.expected_files()
    second = gen.expected_files()
    assert first == second
    assert len(first) == len(ALL_CRDS)


# ---------------------------------------------------------------- rendered objects


def test_default_render_has_each_crd_once_and_one_mpijob_crd_v2beta1(helm: Path) -> None:
    objects = rendered_crds(helm)
    names = sorted(crd["metadata"]["name"] for crd in objects)
    assert names == sorted(ALL_CRDS)
    mpijob = [crd for crd in objects if crd["spec"]["names"]["kind"] == "MPIJob"]
    assert len(mpijob) == 1
    assert [v["name"] for v in mpijob[0]["spec"]["versions"]] == ["v2beta1"]
    assert mpijob[0]["metadata"]["labels"]["app.kubernetes.io/name"] == "mpi-operator"


def test_crds_are_kept_on_uninstall_by_default(crds: dict[str, Manifest]) -> None:
    for name, crd in crds.items():
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep",
                                                  "hyperpod-deps/if-owned-elsewhere": "leave"}, name
        assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def crd_headers(helm: Path, *set_values: str, values_files: tuple[Path, ...] = ()) -> list[Manifest]:
    """The rendered CRDs without their (large) spec: parsing every schema costs seconds."""
    text = render_text(
        helm,
        RenderRequest(chart=CHART, set_values=set_values, values_files=values_files),
    )
    headers = []
    for document in text.split("\n---\n"):
        if "\nkind: CustomResourceDefinition\n" in f"\n{document}":
            headers.append(yaml.safe_load(document.split("\nspec:\n", 1)[0]))
    return headers


def test_crds_keep_false_drops_the_annotation(helm3: Path) -> None:
    crds = crd_headers(helm3, values_files=(CHART / "ci/12-crds-not-kept-values.yaml",))
    assert {c["metadata"]["name"] for c in crds} == ALL_CRDS
    assert all(c["metadata"]["annotations"] == {"hyperpod-deps/if-owned-elsewhere": "leave"} for c in crds)


@pytest.mark.parametrize(
    ("setting", "gone"),
    [
        ("trainingOperators.crds.enabled=false", TRAINING_CRDS),
        ("mpi-operator.crds.enabled=false", {"mpijobs.kubeflow.org"}),
        ("trainingOperators.enabled=false", TRAINING_CRDS),
        ("mpi-operator.enabled=false", {"mpijobs.kubeflow.org"}),
    ],
)
def test_crds_follow_their_switches(helm3: Path, setting: str, gone: set[str]) -> None:
    names = {c["metadata"]["name"] for c in crd_headers(helm3, setting)}
    assert names == ALL_CRDS - gone


def test_rendered_crds_are_exactly_the_generated_schemas(crds: dict[str, Manifest]) -> None:
    gen = _generator()
    kinds = gen.TRAINING_OPERATOR_KINDS + gen.MPI_OPERATOR_KINDS
    assert {kind.name for kind in kinds} == set(crds)
    for kind in kinds:
        assert crds[kind.name]["spec"] == kind.crd_spec(), kind.name


def test_every_crd_is_a_valid_customresourcedefinition(crds: dict[str, Manifest]) -> None:
    for crd in crds.values():
        kubernetes_validate.validate(crd, "1.33.0", strict=True)


def test_every_crd_has_status_and_printer_columns(crds: dict[str, Manifest]) -> None:
    for name, crd in crds.items():
        assert crd["spec"]["scope"] == "Namespaced"
        (version,) = crd["spec"]["versions"]
        assert version["served"] and version["storage"], name
        assert version["subresources"]["status"] == {}, name
        columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
        assert columns["State"]["jsonPath"] == ".status.conditions[-1:].type"
        assert columns["Age"] == {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
        }


def test_the_elastic_kinds_scale_their_workers_like_upstream(crds: dict[str, Manifest]) -> None:
    """training-operator v1.8.1's own CRDs: a scale subresource on PyTorchJob and PaddleJob."""
    scaled = {name: crd["spec"]["versions"][0]["subresources"].get("scale") for name, crd in crds.items()}
    for kind, field in (("pytorchjobs", "pytorchReplicaSpecs"), ("paddlejobs", "paddleReplicaSpecs")):
        assert scaled.pop(f"{kind}.kubeflow.org") == {
            "specReplicasPath": f".spec.{field}.Worker.replicas",
            "statusReplicasPath": ".status.replicaStatuses.Worker.active",
            "labelSelectorPath": ".status.replicaStatuses.Worker.selector",
        }
    assert set(scaled.values()) == {None}


# ---------------------------------------------------------------- structural schema


def _nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for key, child in schema.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}{{}}")


def structural_problems(schema: dict[str, Any]) -> list[str]:
    problems = []
    for path, node in _nodes(schema):
        where = path or "<root>"
        for forbidden in ("$ref", "oneOf", "allOf", "not", "definitions", "nullable"):
            if forbidden in node:
                problems.append(f"{where}: {forbidden}")
        if node.get("additionalProperties") is False:
            problems.append(f"{where}: additionalProperties false")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{where}: both properties and additionalProperties")
        if node.get("x-kubernetes-int-or-string"):
            if node.get("anyOf") != [{"type": "integer"}, {"type": "string"}] or "type" in node:
                problems.append(f"{where}: int-or-string must be exactly anyOf integer|string")
            continue
        if "anyOf" in node:
            problems.append(f"{where}: anyOf outside int-or-string")
        if "type" not in node:
            problems.append(f"{where}: no type")
        if "format" in node and node["format"] not in CRD_FORMATS:
            problems.append(f"{where}: format {node['format']}")
        problems += _list_problems(where, node)
    return problems


def _list_problems(where: str, node: dict[str, Any]) -> list[str]:
    list_type = node.get("x-kubernetes-list-type")
    items = node.get("items", {})
    if list_type == "map":
        props, required = items.get("properties", {}), set(items.get("required", []))
        return [
            f"{where}: list map key {key} neither required nor defaulted"
            for key in node.get("x-kubernetes-list-map-keys", [])
            if key not in required and "default" not in props.get(key, {})
        ]
    if list_type == "set" and items.get("type") not in SCALARS:
        return [f"{where}: set of non-scalars"]
    if "x-kubernetes-list-map-keys" in node and list_type != "map":
        return [f"{where}: map keys without list-type map"]
    return []


def test_every_crd_schema_is_structural(crds: dict[str, Manifest]) -> None:
    for name, crd in crds.items():
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert structural_problems(schema) == [], name
        assert schema["properties"]["metadata"] == {"type": "object"}


def test_the_structural_check_catches_what_the_api_server_rejects() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/x"},
            "b": {"properties": {}},
            "c": {"type": "string", "format": "double"},
            "d": {"type": "object", "additionalProperties": False},
            "e": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["protocol"],
                "items": {"type": "object", "properties": {"protocol": {"type": "string"}}},
            },
        },
    }
    assert structural_problems(bad) == [
        ".a: $ref",
        ".a: no type",
        ".b: no type",
        ".c: format double",
        ".d: additionalProperties false",
        ".e: list map key protocol neither required nor defaulted",
    ]


def test_pod_template_is_kubernetes_own_with_int_or_string_and_quantities(
    crds: dict[str, Manifest],
) -> None:
    schema = crds["pytorchjobs.kubeflow.org"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    worker = schema["properties"]["spec"]["properties"]["pytorchReplicaSpecs"]["properties"]
    template = worker["Worker"]["properties"]["template"]["properties"]
    assert sorted(template["metadata"]["properties"]) == [
        "annotations",
        "creationTimestamp",
        "finalizers",
        "labels",
        "name",
        "namespace",
    ]
    container = template["spec"]["properties"]["containers"]["items"]
    assert container["required"] == ["name"]
    probe_port = container["properties"]["livenessProbe"]["properties"]["httpGet"]["properties"]
    assert probe_port["port"]["x-kubernetes-int-or-string"] is True
    limits = container["properties"]["resources"]["properties"]["limits"]
    assert limits["additionalProperties"]["x-kubernetes-int-or-string"] is True
    ports = container["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["items"]["properties"]["protocol"]["default"] == "TCP"


# ---------------------------------------------------------------- size


def test_release_stays_well_under_helms_one_mib_secret(helm3: Path, tmp_path: Path) -> None:
    manifest = subprocess.run(
        [str(helm3), "template", "dependencies", str(CHART), "--namespace", "kube-system"],
        capture_output=True,
        check=True,
    ).stdout
    assert len(gzip.compress(manifest)) < 150 * 1024
    subprocess.run([str(helm3), "package", str(CHART), "-d", str(tmp_path)], check=True, capture_output=True)
    (package,) = tmp_path.glob("*.tgz")
    assert package.stat().st_size < 200 * 1024


# ---------------------------------------------------------------- jobs against the CRDs


def strict_schema(node: Any) -> Any:
    """A CRD schema as a JSON schema that rejects unknown fields, as the API
    server does under strict field validation (kubectl's default)."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def drop_nulls(value: Any) -> Any:
    """The API server prunes null values of non-nullable fields before validating."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def job_errors(crds: dict[str, Manifest], job: Manifest) -> list[str]:
    group, version = job["apiVersion"].split("/")
    matches = [
        v
        for crd in crds.values()
        if crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == job["kind"]
        for v in crd["spec"]["versions"]
        if v["name"] == version and v["served"]
    ]
    if not matches:
        return [f"{job['apiVersion']} {job['kind']} is not served"]
    schema = strict_schema(matches[0]["schema"]["openAPIV3Schema"])
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(drop_nulls(job))
    ]


def test_there_are_valid_and_invalid_jobs_of_every_kind() -> None:
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in VALID_JOBS}
    assert kinds == {"PyTorchJob", "TFJob", "XGBoostJob", "PaddleJob", "MPIJob"}
    assert len(INVALID_JOBS) >= 10


@pytest.mark.parametrize("path", VALID_JOBS, ids=lambda p: p.stem)
def test_valid_job_passes(crds: dict[str, Manifest], path: Path) -> None:
    assert job_errors(crds, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", INVALID_JOBS, ids=lambda p: p.stem)
def test_invalid_job_fails_with_the_expected_error(crds: dict[str, Manifest], path: Path) -> None:
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must name its expected error"
    expected = first.removeprefix("# expect: ")
    errors = job_errors(crds, yaml.safe_load(text))
    assert errors, f"{path.name} passed validation"
    assert any(expected in error for error in errors), errors


def test_auto_resume_job_keeps_its_annotations_and_restart_policy() -> None:
    job = yaml.safe_load((JOBS / "valid/pytorchjob-auto-resume.yaml").read_text())
    annotations = job["metadata"]["annotations"]
    assert annotations["sagemaker.amazonaws.com/enable-job-auto-resume"] == "true"
    assert annotations["sagemaker.amazonaws.com/job-max-retry-count"] == "2"
    worker = job["spec"]["pytorchReplicaSpecs"]["Worker"]
    assert worker["replicas"] == 2 and worker["restartPolicy"] == "OnFailure"
