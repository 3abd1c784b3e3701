"""Operators the chart needs but does not install: how preflight finds what is required
(annotations on the render, cert-manager's values merged as helm merges them) and what
it reports when the operator's CRD is absent."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps.chart.cluster import requirements_of
from hyperpod_deps.chart.preflight import ClusterFacts, decide, requirement_findings
from hyperpod_deps.chart.render import RenderRequest
from hyperpod_deps.chart.requirements import (
    Requirement,
    cert_manager_install_command,
    cert_manager_requirement,
    deep_merge,
    effective_section,
    parse_set,
    rendered_requirements,
)
from hyperpod_deps.core.ownership import Release
from tests.support.charts import CHART

GPU = Requirement("gpu-operator", "clusterpolicies.nvidia.com",
                  "helm install gpu-operator gpu-operator --repo x")
CERTS = "certificates.cert-manager.io"


def config_map(annotations: dict[str, str] | None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "default-mig-config",
                         "labels": {"app.kubernetes.io/component": "gpu-operator"},
                         **({"annotations": annotations} if annotations is not None else {})}}


def test_requirements_come_from_the_rendered_annotations() -> None:
    declared = {"hyperpod-deps/requires-crd": GPU.crd, "hyperpod-deps/install-command": GPU.install_command}
    objects = [config_map(declared), config_map(None), config_map({"other": "x"})]
    assert rendered_requirements(objects) == [GPU]


def test_an_absent_crd_is_an_unmet_prerequisite_with_the_command() -> None:
    [finding] = requirement_findings([GPU, GPU], frozenset())  # named once
    assert finding.check == "operator"
    assert "gpu-operator needs the operator that defines CRD clusterpolicies.nvidia.com" in finding.message
    assert finding.fix == f"install it first: `{GPU.install_command}`"
    assert requirement_findings([GPU], frozenset({GPU.crd})) == []


def test_decide_reports_it_and_fails() -> None:
    facts = ClusterFacts("v1.35.4", [], namespaces=frozenset({"kube-system"}), requirements=[GPU])
    report = decide(facts, Release("dependencies", "kube-system"), None)
    assert not report.ok and [p.check for p in report.prerequisites] == ["operator"]
    present = ClusterFacts("v1.35.4", [], namespaces=frozenset({"kube-system"}), requirements=[GPU],
                           present_crds=frozenset({GPU.crd}))
    assert decide(present, Release("dependencies", "kube-system"), None).ok


def test_cert_manager_off_requires_nothing() -> None:
    assert cert_manager_requirement({"enabled": False, "namespace": "cert-manager"}) is None
    assert cert_manager_requirement({}) is None


def test_cert_manager_on_requires_its_crd_and_names_the_install() -> None:
    values = {"enabled": True, "namespace": "certs", "crds": {"enabled": False},
              "installChart": {"chart": "oci://quay.io/jetstack/charts/cert-manager", "version": "v1.18.2",
                               "release": "cert-manager"}}
    requirement = cert_manager_requirement(values)
    assert requirement is not None and requirement.crd == CERTS
    # The leader-election namespace follows the namespace when not set.
    assert requirement.install_command == (
        "helm install cert-manager oci://quay.io/jetstack/charts/cert-manager --version v1.18.2 "
        "--namespace certs --create-namespace --set crds.enabled=false "
        "--set global.leaderElection.namespace=certs")
    assert cert_manager_install_command(values) == requirement.install_command


def test_effective_values_layer_as_helm_does(tmp_path: Path) -> None:
    defaults = effective_section(CHART, "cert-manager", (), ())
    assert defaults["enabled"] is False and defaults["namespace"] == "cert-manager"
    assert defaults["installChart"]["version"] == "v1.18.2"  # the subchart's own default survives
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(yaml.safe_dump({"cert-manager": {"enabled": True, "namespace": "one"}}))
    second.write_text(yaml.safe_dump({"cert-manager": {"namespace": "two"}, "mlflow": {"enabled": True}}))
    merged = effective_section(CHART, "cert-manager", (first, second), ())
    assert (merged["enabled"], merged["namespace"]) == (True, "two")
    overridden = effective_section(CHART, "cert-manager", (first,), ("cert-manager.enabled=false",))
    assert overridden["enabled"] is False


@pytest.mark.parametrize(("assignment", "expected"), [
    ("a.b=true", [(["a", "b"], True)]),
    ("a=1,b=x", [(["a"], 1), (["b"], "x")]),
    (r"a=x\,y", [(["a"], "x,y")]),
    ("a=null", [(["a"], None)]),
    ("novalue", []),
])
def test_set_is_read_as_helm_reads_it(assignment: str, expected: list[tuple[list[str], Any]]) -> None:
    assert parse_set(assignment) == expected


def test_merge_replaces_lists_and_null_deletes() -> None:
    merged = deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": None})
    assert merged == {"a": {"b": 1, "c": [2]}}


def test_requirements_of_a_request_add_cert_manager_only_when_on() -> None:
    objects = [config_map({"hyperpod-deps/requires-crd": GPU.crd, "hyperpod-deps/install-command": "x"})]
    off = requirements_of(objects, RenderRequest(chart=CHART))
    assert [r.crd for r in off] == [GPU.crd]
    on = requirements_of([], RenderRequest(chart=CHART, set_values=("cert-manager.enabled=true",)))
    assert [r.crd for r in on] == [CERTS]
    assert on[0].install_command.startswith("helm install cert-manager oci://quay.io/jetstack/charts/")
