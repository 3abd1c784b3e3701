"""The Kubeflow operators' local command lines and objects (pure)."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.errors import RequestFailed
from hyperpod_deps.localcluster import operator_objects as objects
from hyperpod_deps.localcluster import operators
from tests.support.charts import SUBCHARTS

PORTS = objects.TrainingOperatorPorts(metrics=41001, probes=41002, webhook=41003)


def test_the_default_schemes_are_the_charts() -> None:
    values = yaml.safe_load((SUBCHARTS / "training-operators/values.yaml").read_text())
    assert tuple(values["schemes"]) == objects.DEFAULT_SCHEMES


def test_training_operator_listens_on_loopback_and_never_runs_mpijob() -> None:
    argv = objects.training_operator_argv(Path("/bin/op"), Path("/k/config"), PORTS, ("pytorchjob", "tfjob"))
    assert argv[0] == "/bin/op"
    assert "--metrics-bind-address=127.0.0.1:41001" in argv
    assert "--health-probe-bind-address=127.0.0.1:41002" in argv
    assert "--webhook-server-port=41003" in argv
    assert [a for a in argv if a.startswith("--enable-scheme=")] == ["--enable-scheme=pytorchjob",
                                                                      "--enable-scheme=tfjob"]
    assert not [a for a in argv if "0.0.0.0" in a or a.endswith("=:8080")]


@pytest.mark.parametrize("schemes", [("mpijob",), ("pytorchjob", "mpijob"), ("mxjob",), ()])
def test_mpijob_unknown_or_no_scheme_is_refused(schemes: tuple[str, ...]) -> None:
    with pytest.raises(objects.SchemeNotAllowed, match="MPIJob belongs to the MPI operator"):
        objects.training_operator_argv(Path("/bin/op"), Path("/k"), PORTS, schemes)


def test_mpi_operator_has_no_metrics_server_and_its_lease_where_asked() -> None:
    argv = objects.mpi_operator_argv(Path("/bin/mpi"), Path("/k/config"), "locks")
    assert argv[1:] == ["--kubeConfig=/k/config", "--lock-namespace=locks", "--monitoring-port=0",
                        "-alsologtostderr"]


def test_webhooks_match_the_charts_and_call_the_local_service() -> None:
    config = objects.webhook_configuration("team-a", b"PEM", ("pytorchjob", "paddlejob"))
    assert config["metadata"]["name"] == "validator.training-operator.kubeflow.org"
    pytorch, paddle = config["webhooks"]
    assert pytorch["name"] == "local.pytorchjob.training-operator.kubeflow.org"  # not the chart's
    assert objects.is_local_webhook(pytorch)
    assert not objects.is_local_webhook({"name": "validator.pytorchjob.training-operator.kubeflow.org"})
    assert pytorch["clientConfig"] == {
        "service": {"name": "training-operator", "namespace": "team-a", "port": 443,
                    "path": "/validate-kubeflow-org-v1-pytorchjob"},
        "caBundle": base64.b64encode(b"PEM").decode()}
    assert "url" not in pytorch["clientConfig"]  # a URL would bypass the cluster's Service path
    assert pytorch["rules"][0]["resources"] == ["pytorchjobs"]
    assert pytorch["failurePolicy"] == "Fail"
    assert paddle["clientConfig"]["service"]["path"] == "/validate-kubeflow-org-v1-paddlejob"


def test_the_webhook_service_has_no_selector() -> None:
    service = objects.webhook_service("team-a")
    assert service["metadata"] == {"name": "training-operator", "namespace": "team-a"}
    assert "selector" not in service["spec"]  # nothing in the cluster may take its endpoints
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 443, "protocol": "TCP"}]


def test_the_secret_holds_the_rotators_keys_base64_encoded() -> None:
    secret = objects.webhook_secret("kubeflow", {"ca.crt": b"a", "tls.key": b"b"})
    assert secret["metadata"] == {"name": "training-operator-webhook-cert", "namespace": "kubeflow"}
    assert secret["data"] == {"ca.crt": "YQ==", "tls.key": "Yg=="}


def test_the_service_name_is_the_one_the_certificate_must_carry() -> None:
    assert objects.service_dns_name("team-a") == "training-operator.team-a.svc"


@pytest.mark.parametrize(("lease", "holder"), [
    (None, None),
    ({"spec": {}}, None),
    ({"spec": {"holderIdentity": ""}}, None),
    ({"spec": {"holderIdentity": "host_1234"}}, "host_1234"),
])
def test_lease_holder(lease: dict[str, object] | None, holder: str | None) -> None:
    assert objects.lease_holder(lease) == holder


def test_a_missing_service_is_created_without_a_selector() -> None:
    assert objects.service_to_create(None, "kubeflow") == objects.webhook_service("kubeflow")


def test_the_charts_service_is_used_as_it_is() -> None:
    """Same name and namespace as the chart's: never replaced, so its release keeps owning it."""
    chart_service = {"metadata": {"name": "training-operator", "namespace": "kubeflow",
                                  "annotations": {"meta.helm.sh/release-name": "dependencies"}},
                     "spec": {"clusterIP": "10.96.0.20",
                              "selector": {"control-plane": "kubeflow-training-operator"},
                              "ports": [{"name": "monitoring-port", "port": 8080},
                                        {"name": "webhook", "port": 443}]}}
    assert objects.service_to_create(chart_service, "kubeflow") is None


def test_a_service_without_the_webhook_port_is_refused_with_the_fix() -> None:
    metrics_only = {"spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "monitoring-port", "port": 8080}]}}
    with pytest.raises(objects.ServiceWithoutWebhookPort, match=r"trainingOperators\.webhook\.enabled=false"):
        objects.service_to_create(metrics_only, "kubeflow")


class _Namespaces:
    """Just enough of Kube for ensure_namespace: what exists, and every write."""

    def __init__(self, existing: dict[str, Any], conflict: bool = False) -> None:
        self.existing = existing
        self.conflict = conflict
        self.created: list[str] = []

    def get(self, rtype: object, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.existing.get(name)

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if self.conflict:
            raise RequestFailed("already exists", 409)
        self.created.append(manifest["metadata"]["name"])
        return manifest


def test_an_existing_namespace_is_left_with_its_helm_metadata() -> None:
    owned: dict[str, Any] = {"metadata": {"name": "kubeflow",
                                          "annotations": {"meta.helm.sh/release-name": "dependencies"}}}
    kube = _Namespaces({"kubeflow": owned})
    operators.ensure_namespace(cast(Kube, kube), "kubeflow")
    assert kube.created == []
    assert owned["metadata"]["annotations"] == {"meta.helm.sh/release-name": "dependencies"}


def test_a_missing_namespace_is_created_and_a_race_is_fine() -> None:
    kube = _Namespaces({})
    operators.ensure_namespace(cast(Kube, kube), "kubeflow")
    assert kube.created == ["kubeflow"]
    operators.ensure_namespace(cast(Kube, _Namespaces({}, conflict=True)), "kubeflow")
