"""A Helm release through the helm binary: the install or upgrade command, the values and objects
helm keeps for it, and whether its workloads are ready (what `hyperpod-deps status` reports)."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hyperpod_deps.chart.cluster import connected, failures, served_type
from hyperpod_deps.chart.render import RenderRequest, parse_manifests
from hyperpod_deps.core.manifest import Manifest
from hyperpod_deps.core.ownership import Release
from hyperpod_deps.kube.client import Kube

COMPONENT_LABEL = "app.kubernetes.io/component"


class HelmFailed(RuntimeError):
    """A helm command exited non-zero; the message is helm's own, or says where its output went."""


def release_of(request: RenderRequest) -> Release:
    return Release(request.release, request.namespace)


def helm_command(helm: Path, action: str, request: RenderRequest, kubeconfig: Path | None,
                 extra: Sequence[str] = ()) -> list[str]:
    """`helm install|upgrade <release> <chart> --namespace <ns>` with the same values as the render."""
    args = [str(helm), action, request.release, str(request.chart), "--namespace", request.namespace]
    args += request.value_args()
    return args + _kubeconfig_args(kubeconfig) + list(extra)


def stream(command: Sequence[str], echo: Callable[[str], None]) -> int:
    """Run a command, handing each line of its output (stdout and stderr, in order) to `echo`."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            echo(line.rstrip("\n"))
    return process.returncode


def helm_output(helm: Path, kubeconfig: Path | None, *args: str) -> str:
    result = subprocess.run([str(helm), *args, *_kubeconfig_args(kubeconfig)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HelmFailed(result.stderr.strip() or f"helm {' '.join(args)} failed")
    return result.stdout


def current_values(helm: Path, release: Release, kubeconfig: Path | None) -> str:
    """The values the release was installed with (what helm's --reuse-values starts from)."""
    return helm_output(helm, kubeconfig, "get", "values", release.name, "--namespace", release.namespace,
                       "--output", "yaml")


def release_objects(helm: Path, release: Release, kubeconfig: Path | None) -> list[Manifest]:
    return parse_manifests(helm_output(helm, kubeconfig, "get", "manifest", release.name,
                                       "--namespace", release.namespace))


@dataclass(frozen=True)
class Readiness:
    component: str
    kind: str
    name: str
    namespace: str
    desired: int
    ready: int
    exists: bool = True

    @property
    def ok(self) -> bool:
        return self.exists and self.ready >= self.desired


@dataclass(frozen=True)
class ReleaseStatus:
    state: str  # helm's word: deployed, failed, pending-upgrade, ...
    revision: object  # as helm reports it
    workloads: list[Readiness]

    @property
    def ready(self) -> bool:
        return self.state == "deployed" and all(w.ok for w in self.workloads)


def release_status(helm: Path, release: Release, kubeconfig: Path | None) -> ReleaseStatus:
    """helm's status of the release, then the readiness of each of its Deployments and DaemonSets.

    Raises HelmFailed when helm cannot say, ClusterFailed when the cluster cannot be read."""
    info = json.loads(helm_output(helm, kubeconfig, "status", release.name, "--namespace", release.namespace,
                                  "--output", "json"))
    objects = release_objects(helm, release, kubeconfig)
    with connected(kubeconfig) as kube, failures("reading the cluster"):
        workloads = workload_readiness(kube, objects, release)
    return ReleaseStatus(str((info.get("info") or {}).get("status")), info.get("version"), workloads)


def readiness(rendered: Manifest, live: Manifest | None, namespace: str) -> Readiness:
    """Deployments count available replicas; DaemonSets count ready pods against desired ones."""
    meta = rendered.get("metadata") or {}
    component = str((meta.get("labels") or {}).get(COMPONENT_LABEL, "-"))
    kind, name = str(rendered.get("kind")), str(meta.get("name"))
    if live is None:
        return Readiness(component, kind, name, namespace, 0, 0, exists=False)
    status = live.get("status") or {}
    if kind == "DaemonSet":
        return Readiness(component, kind, name, namespace, int(status.get("desiredNumberScheduled") or 0),
                         int(status.get("numberReady") or 0))
    desired = (live.get("spec") or {}).get("replicas")
    return Readiness(component, kind, name, namespace, 1 if desired is None else int(desired),
                     int(status.get("availableReplicas") or 0))


def workload_readiness(kube: Kube, objects: Iterable[Manifest], release: Release) -> list[Readiness]:
    found = []
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "DaemonSet"):
            continue
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or release.namespace)
        rtype = served_type(kube, str(obj.get("apiVersion")), str(obj.get("kind")))
        found.append(readiness(obj, kube.get(rtype, str(meta.get("name")), namespace), namespace))
    return found


def _kubeconfig_args(kubeconfig: Path | None) -> list[str]:
    return ["--kubeconfig", str(kubeconfig)] if kubeconfig else []
