"""The local control plane's binaries: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, built from their Go modules (no registry ships them prebuilt).

The versions are pinned in CONTROL_PLANE and nowhere else.
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.toolchain.cache import cache_root
from hyperpod_deps.toolchain.gobuild import (
    GoBinary,
    GoBuildFailed,
    Progress,
    ScratchModule,
    binary_path,
    ensure_built,
    go_command,
    go_environment,
    stderr_progress,
)


@dataclass(frozen=True)
class ControlPlaneVersions:
    kubernetes: str  # k8s.io/kubernetes; staging modules are v0.<minor>.<patch>
    etcd: str  # go.etcd.io/etcd/server/v3: the one k8s.io/kubernetes itself requires
    kwok: str  # sigs.k8s.io/kwok

    @property
    def staging(self) -> str:
        """The k8s.io/* staging modules' version that matches k8s.io/kubernetes."""
        _, minor, patch = self.kubernetes.split(".")
        return f"0.{minor}.{patch}"


CONTROL_PLANE = ControlPlaneVersions(kubernetes="1.35.4", etcd="3.6.5", kwok="0.8.0")

KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
# A real node's agent, built only for `cluster up --real-nodes`: from the same scratch module
# and Go build cache, so only the packages the control plane does not share are new.
NODE_BINARIES = ("kubelet",)

# The kwok stages (upstream's "fast" node and pod lifecycles, node heartbeats through
# leases), taken from the kwok module that was built, so they always match the binary.
KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


@dataclass(frozen=True)
class ControlPlaneBinaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    kwok_stages: Path


def version_ldflags(kubernetes: str) -> tuple[str, ...]:
    """What the upstream release build stamps in, so `/version` says v1.35.4, not v0.0.0."""
    major, minor, _ = kubernetes.split(".")
    flags: list[str] = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.gitVersion=v{kubernetes}", f"-X {package}.gitMajor={major}",
                  f"-X {package}.gitMinor={minor}", f"-X {package}.gitTreeState=clean"]
    return tuple(flags)


_STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/src/", re.MULTILINE)


def staging_modules(kubernetes_go_mod: str) -> list[str]:
    """The k8s.io/* modules that k8s.io/kubernetes replaces with its own staging copies."""
    return sorted(set(_STAGING_REPLACE.findall(kubernetes_go_mod)))


def kubernetes_go_mod(versions: ControlPlaneVersions, staging: list[str]) -> str:
    """A scratch go.mod that can build k8s.io/kubernetes' commands.

    Its replace directives only count in its own go.mod, so each staging module is pinned here
    to the published tag of the same release.
    """
    pins = "".join(f"\t{m} => {m} v{versions.staging}\n" for m in staging)
    return (
        "module hyperpod-deps.local/build/kubernetes\n\ngo 1.25.0\n\n"
        f"require k8s.io/kubernetes v{versions.kubernetes}\n\nreplace (\n{pins})\n"
    )


def kubernetes_module(versions: ControlPlaneVersions, staging: list[str],
                      tools: tuple[str, ...] = KUBE_BINARIES) -> ScratchModule:
    v = versions.kubernetes
    return ScratchModule(
        name=f"kubernetes-v{v}",
        go_mod=kubernetes_go_mod(versions, staging),
        binaries=tuple(GoBinary(tool, f"k8s.io/kubernetes/cmd/{tool}", v, version_ldflags(v))
                       for tool in tools),
        get=tuple(f"k8s.io/kubernetes/cmd/{tool}@v{v}" for tool in tools),
    )


def etcd_module(versions: ControlPlaneVersions) -> ScratchModule:
    v = versions.etcd
    return ScratchModule(
        name=f"etcd-v{v}",
        go_mod=(f"module hyperpod-deps.local/build/etcd\n\ngo 1.24\n\n"
                f"require go.etcd.io/etcd/server/v3 v{v}\n"),
        binaries=(GoBinary("etcd", "go.etcd.io/etcd/server/v3", v),),
        get=(f"go.etcd.io/etcd/server/v3@v{v}",),
    )


def kwok_module(versions: ControlPlaneVersions) -> ScratchModule:
    v = versions.kwok
    return ScratchModule(
        name=f"kwok-v{v}",
        go_mod=f"module hyperpod-deps.local/build/kwok\n\ngo 1.26.0\n\nrequire sigs.k8s.io/kwok v{v}\n",
        binaries=(GoBinary("kwok", "sigs.k8s.io/kwok/cmd/kwok", v),),
        get=(f"sigs.k8s.io/kwok/cmd/kwok@v{v}",),
    )


def ensure_control_plane(versions: ControlPlaneVersions = CONTROL_PLANE,
                         progress: Progress = stderr_progress) -> ControlPlaneBinaries:
    """Every control-plane binary, built on first use (many minutes), then from the cache."""
    etcd = ensure_built(etcd_module(versions), progress)["etcd"]
    kwok_mod = kwok_module(versions)
    kwok = ensure_built(kwok_mod, progress)["kwok"]
    stages = _ensure_kwok_stages(kwok_mod, kwok.parent / "stages.yaml")
    kube = ensure_built(_kubernetes_module_resolved(versions), progress)
    return ControlPlaneBinaries(etcd, kube["kube-apiserver"], kube["kube-controller-manager"],
                                kube["kube-scheduler"], kwok, stages)


def ensure_kubelet(versions: ControlPlaneVersions = CONTROL_PLANE,
                   progress: Progress = stderr_progress) -> Path:
    """The kubelet at the control plane's version, built on first use, then from the cache."""
    return ensure_built(_kubernetes_module_resolved(versions, NODE_BINARIES), progress)["kubelet"]


def _kubernetes_module_resolved(versions: ControlPlaneVersions,
                                tools: tuple[str, ...] = KUBE_BINARIES) -> ScratchModule:
    """The kubernetes scratch module; asks the module proxy for the staging list only if needed."""
    placeholder = kubernetes_module(versions, [], tools)
    if all(binary_path(b).is_file() for b in placeholder.binaries):
        return placeholder
    go_mod = _module_file(f"k8s.io/kubernetes@v{versions.kubernetes}", "GoMod")
    return kubernetes_module(versions, staging_modules(go_mod.read_text()), tools)


def _ensure_kwok_stages(module: ScratchModule, target: Path) -> Path:
    if target.is_file():
        return target
    source = _module_file(f"sigs.k8s.io/kwok@v{module.binaries[0].version}", "Dir")
    documents = [(source / name).read_text().strip() for name in KWOK_STAGE_FILES]
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text("\n---\n".join(documents) + "\n")
    partial.replace(target)
    return target


def _module_file(module_at_version: str, key: str) -> Path:
    """A path from `go mod download -json` (the module's go.mod, or its unpacked source)."""
    scratch = cache_root() / "gobuild"
    scratch.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([go_command(), "mod", "download", "-json", module_at_version], cwd=scratch,
                            capture_output=True, text=True, env=go_environment(), check=False)
    if result.returncode != 0:
        raise GoBuildFailed(f"go mod download {module_at_version}", Path("-"),
                            (result.stdout + result.stderr)[-3000:])
    return Path(json.loads(result.stdout)[key])


def main() -> None:
    """python -m hyperpod_deps.toolchain.kubernetes: build (or find) every binary, the kubelet
    of the real nodes included, and say where."""
    binaries = ensure_control_plane()
    for tool, path in vars(binaries).items():
        print(f"{tool}: {path}")
    print(f"kubelet: {ensure_kubelet()}")


if __name__ == "__main__":
    main()
