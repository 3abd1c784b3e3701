"""How the Kubeflow operators and node-problem-detector are built (no build runs here)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hyperpod_deps.toolchain import kubeflow
from hyperpod_deps.toolchain.gobuild import GoBinary, ScratchModule, build_command
from tests.support.charts import SUBCHARTS


def _image_tag(subchart: str) -> str:
    return str(yaml.safe_load((SUBCHARTS / subchart / "values.yaml").read_text())["image"]["tag"])


def test_the_operators_are_the_versions_the_chart_deploys() -> None:
    assert f"v{kubeflow.KUBEFLOW.training_operator}" == _image_tag("training-operators")
    assert kubeflow.KUBEFLOW.mpi_operator == _image_tag("mpi-operator")


@pytest.mark.parametrize(("module", "requirement", "package"), [
    (kubeflow.training_operator_module(), "github.com/kubeflow/training-operator v1.8.1",
     "github.com/kubeflow/training-operator/cmd/training-operator.v1"),
    (kubeflow.mpi_operator_module(), "github.com/kubeflow/mpi-operator v0.6.0",
     "github.com/kubeflow/mpi-operator/cmd/mpi-operator"),
    (kubeflow.node_problem_detector_module(), "k8s.io/node-problem-detector v1.36.0",
     "k8s.io/node-problem-detector/cmd/nodeproblemdetector"),
])
def test_each_scratch_module_requires_only_its_upstream_module(
        module: ScratchModule, requirement: str, package: str) -> None:
    (binary,) = module.binaries
    assert f"require {requirement}\n" in module.go_mod
    assert module.go_mod.count("require") == 1 and "replace" not in module.go_mod
    assert binary.package == package
    assert module.get == (f"{package}@{requirement.split()[1]}",)
    assert module.directory.name == f"{binary.tool}-v{binary.version}"


def test_versions_are_stamped_where_the_binaries_report_them() -> None:
    (mpi,) = kubeflow.mpi_operator_module().binaries
    (npd,) = kubeflow.node_problem_detector_module().binaries
    assert mpi.ldflags == ("-X github.com/kubeflow/mpi-operator/pkg/version.Version=v0.6.0",)
    assert npd.ldflags == ("-X k8s.io/node-problem-detector/pkg/version.version=v1.36.0",)


def test_node_problem_detector_leaves_out_the_cloud_exporter_and_journald() -> None:
    (npd,) = kubeflow.node_problem_detector_module().binaries
    command = build_command("go", npd, Path("/out/npd"))
    assert "-tags=disable_stackdriver_exporter" in command
    assert not [part for part in command if "journald" in part]  # cgo-only: opt-in upstream


def test_a_binary_without_tags_gets_no_tags_flag() -> None:
    command = build_command("go", GoBinary("x", "example.com/x", "1.0.0"), Path("/out/x"))
    assert not [part for part in command if part.startswith("-tags")]
    assert command[-3:] == ["-o", "/out/x", "example.com/x"]
