"""The Kubeflow training operator, the MPI operator and node-problem-detector, built from their
Go modules like the control plane (no container registry is reachable, so no image is pulled).

The versions are pinned in KUBEFLOW and nowhere else. The operators are the versions the chart
deploys; node-problem-detector is only used by benchmarks.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.toolchain.gobuild import (
    GoBinary,
    Progress,
    ScratchModule,
    ensure_built,
    stderr_progress,
)


@dataclass(frozen=True)
class KubeflowVersions:
    training_operator: str  # github.com/kubeflow/training-operator
    mpi_operator: str  # github.com/kubeflow/mpi-operator (the chart's mpi-operator image tag)
    node_problem_detector: str  # k8s.io/node-problem-detector


KUBEFLOW = KubeflowVersions(training_operator="1.8.1", mpi_operator="0.6.0",
                            node_problem_detector="1.36.0")

TRAINING_OPERATOR_MODULE = "github.com/kubeflow/training-operator"
MPI_OPERATOR_MODULE = "github.com/kubeflow/mpi-operator"
NPD_MODULE = "k8s.io/node-problem-detector"

# node-problem-detector's journald watcher (cgo, libsystemd) is opt-in (tag `journald`) since
# v1.x, so a CGO_ENABLED=0 build works untagged; its own `disable_stackdriver_exporter` tag
# leaves out the Google Cloud exporter: 670 packages to compile instead of 953.
NPD_BUILD_TAGS = ("disable_stackdriver_exporter",)


def _scratch(name: str, module: str, version: str, go: str, binary: GoBinary) -> ScratchModule:
    """A scratch module that requires only `module`: its own go.mod decides every dependency."""
    local = name.replace("-", "")
    return ScratchModule(
        name=f"{name}-v{version}",
        go_mod=(f"module hyperpod-deps.local/build/{local}\n\ngo {go}\n\n"
                f"require {module} v{version}\n"),
        binaries=(binary,),
        get=(f"{binary.package}@v{version}",),
    )


def training_operator_module(versions: KubeflowVersions = KUBEFLOW) -> ScratchModule:
    v = versions.training_operator
    package = f"{TRAINING_OPERATOR_MODULE}/cmd/training-operator.v1"
    return _scratch("training-operator", TRAINING_OPERATOR_MODULE, v, "1.22",
                    GoBinary("training-operator", package, v))


def mpi_operator_module(versions: KubeflowVersions = KUBEFLOW) -> ScratchModule:
    v = versions.mpi_operator
    stamp = (f"-X {MPI_OPERATOR_MODULE}/pkg/version.Version=v{v}",)
    return _scratch("mpi-operator", MPI_OPERATOR_MODULE, v, "1.23",
                    GoBinary("mpi-operator", f"{MPI_OPERATOR_MODULE}/cmd/mpi-operator", v, stamp))


def node_problem_detector_module(versions: KubeflowVersions = KUBEFLOW) -> ScratchModule:
    v = versions.node_problem_detector
    stamp = (f"-X {NPD_MODULE}/pkg/version.version=v{v}",)
    binary = GoBinary("node-problem-detector", f"{NPD_MODULE}/cmd/nodeproblemdetector", v, stamp,
                      tags=NPD_BUILD_TAGS)
    return _scratch("node-problem-detector", NPD_MODULE, v, "1.26.5", binary)


def ensure_training_operator(versions: KubeflowVersions = KUBEFLOW,
                             progress: Progress = stderr_progress) -> Path:
    """The training operator binary: built on first use (minutes), then from the cache."""
    return ensure_built(training_operator_module(versions), progress)["training-operator"]


def ensure_mpi_operator(versions: KubeflowVersions = KUBEFLOW,
                        progress: Progress = stderr_progress) -> Path:
    return ensure_built(mpi_operator_module(versions), progress)["mpi-operator"]


def ensure_node_problem_detector(versions: KubeflowVersions = KUBEFLOW,
                                 progress: Progress = stderr_progress) -> Path:
    return ensure_built(node_problem_detector_module(versions), progress)["node-problem-detector"]


def main() -> None:
    """python -m hyperpod_deps.toolchain.kubeflow [--node-problem-detector]: build (or find)
    the two operators, or node-problem-detector alone; print where they are."""
    if "--node-problem-detector" in sys.argv[1:]:
        print(f"node-problem-detector: {ensure_node_problem_detector()}")
        return
    print(f"training-operator: {ensure_training_operator()}")
    print(f"mpi-operator: {ensure_mpi_operator()}")


if __name__ == "__main__":
    main()
