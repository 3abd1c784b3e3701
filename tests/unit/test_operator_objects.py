"""The Kubeflow operators' local command lines and objects (pure)."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from hyperpod_deps.localcluster import operator_objects as objects
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
