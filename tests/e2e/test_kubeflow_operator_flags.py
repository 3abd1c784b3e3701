"""Every command line the chart gives the Kubeflow operators is one the real binaries accept.

The operators parse their flags before anything else and exit 2 on an unknown one (a crash
loop in a cluster). Appended last, `--version` (MPI operator) or `-h` (training operator) makes
a binary that accepted every earlier flag exit 0 without contacting any cluster.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import SCENARIOS, Renderer, of_kind, pod_spec

pytestmark = pytest.mark.e2e

NO_CRDS = ("trainingOperators.crds.enabled=false", "mpi-operator.crds.enabled=false")
# Image repository of each operator -> (index into kubeflow_operator_binaries, last flag).
OPERATORS = {"kubeflow/training-operator": (0, "-h"), "mpioperator/mpi-operator": (1, "--version")}
VALUES = [None, *SCENARIOS]


def operator_containers(objects: list[Manifest]) -> list[tuple[str, list[str]]]:
    """(image repository, args) of every operator container the render holds."""
    found = []
    for deployment in of_kind(objects, "Deployment"):
        for container in pod_spec(deployment)["containers"]:
            repository = container["image"].split("/", 1)[1].split(":")[0].split("@")[0]
            if repository in OPERATORS:
                found.append((repository, list(container.get("args") or [])))
    return found


@pytest.mark.parametrize("values", VALUES, ids=["defaults", *(s.name.removesuffix("-values.yaml")
                                                              for s in SCENARIOS)])
def test_the_real_operators_accept_the_chart_flags(values: Path | None,
                                                   kubeflow_operator_binaries: tuple[Path, Path]) -> None:
    objects = Renderer(helm_path(4))(*NO_CRDS, values_files=[values] if values else [])
    for repository, args in operator_containers(objects):
        index, last = OPERATORS[repository]
        result = subprocess.run([str(kubeflow_operator_binaries[index]), *args, last],
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, f"{repository} refuses {args}: {result.stderr[-600:]}"


def test_the_default_render_runs_both_operators() -> None:
    """The test above checks something: the default render holds both operators' containers."""
    objects = Renderer(helm_path(4))(*NO_CRDS)
    assert sorted(repository for repository, _ in operator_containers(objects)) == sorted(OPERATORS)
