"""The real helm, run the way a user runs it: from the repository root, the cluster's kubeconfig
in KUBECONFIG, and its own config, cache and data directories so nothing of the machine's
helm setup leaks in."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.charts import ROOT
from tests.support.kube_support import Kube

RELEASE = "dependencies"
NAMESPACE = "kube-system"
RELEASE_NAME_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"


# README's packaging commands, for an admin who mirrors the chart into a registry (ECR):
# REGISTRY stands for theirs. tests/e2e/test_registry.py runs them against the local registry.
PACKAGE = "helm package helm_chart/HyperPodHelmChart --destination dist"
PUSH = "helm push dist/hyperpod-helm-chart-0.1.0.tgz oci://REGISTRY/charts"
INSTALL_FROM_OCI = ("helm install dependencies oci://REGISTRY/charts/hyperpod-helm-chart --version 0.1.0"
                    " --namespace kube-system")
DOCUMENTED_PACKAGING = (PACKAGE, PUSH, INSTALL_FROM_OCI)


class HelmFailed(AssertionError):
    """helm exited non-zero where the test needs it to succeed."""


def helm_env(kubeconfig: Path, home: Path) -> dict[str, str]:
    """The caller's environment minus any helm or kubectl settings, plus the cluster's kubeconfig."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBECONFIG"))}
    env.update(
        KUBECONFIG=str(kubeconfig),
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_DATA_HOME=str(home / "data"),
    )
    return env


@dataclass(frozen=True)
class HelmCli:
    """One helm major version bound to the test cluster.

    Every install first waits for namespaces still being deleted: a terminating namespace
    refuses new objects, and the previous test's uninstall may have left one (uninstall does
    not wait, so that time overlaps with what the test does next).
    """

    major: int
    binary: Path
    env: Mapping[str, str]
    kube: Kube

    def run(self, *args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
        if args[:1] == ("install",) and "--dry-run" not in " ".join(args):
            self.kube.wait_no_namespace_terminating()
        result = subprocess.run([str(self.binary), *args], cwd=cwd, env=dict(self.env), capture_output=True,
                                text=True, check=False)
        if check and result.returncode != 0:
            raise HelmFailed(f"helm {self.major}: helm {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}{result.stderr}")
        return result

    def documented(self, command: str, cwd: Path = ROOT,
                   check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command exactly as the documentation writes it: its argv, with this helm as `helm`."""
        argv = command_argv(command)
        return self.run(*argv[1:], cwd=cwd, check=check)

    def status(self, release: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, Any] | None:
        """helm's record of the release, or None when there is none."""
        result = self.run("status", release, "--namespace", namespace, "--output", "json", check=False)
        if result.returncode != 0:
            if "not found" in result.stderr:
                return None
            raise HelmFailed(f"helm {self.major}: helm status failed:\n{result.stderr}")
        status: dict[str, Any] = json.loads(result.stdout)
        return status

    def uninstall(self, release: str = RELEASE, namespace: str = NAMESPACE) -> str:
        """Uninstall the release in whatever state it is (a failed install too); helm's output."""
        return self.run("uninstall", release, "--namespace", namespace, "--ignore-not-found").stdout


def command_argv(command: str) -> list[str]:
    """The argv a shell gives the command: continuation lines joined, a trailing comment dropped."""
    argv = shlex.split(command.replace("\\\n", " "), comments=True)
    if not argv or argv[0] != "helm":
        raise ValueError(f"not a helm command: {command!r}")
    return argv


_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def documented_helm_commands(markdown: str) -> list[str]:
    """Every `helm ...` command in the fenced code blocks, continuation lines joined, normalised."""
    commands = []
    for block in _FENCE.findall(markdown):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip().startswith("helm "):
                commands.append(" ".join(command_argv(command)))
    return commands


def normalised(command: str) -> str:
    return " ".join(command_argv(command))


def owned_by(obj: Mapping[str, Any], release: str = RELEASE, namespace: str = NAMESPACE) -> bool:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return bool(annotations.get(RELEASE_NAME_ANNOTATION) == release
                and annotations.get(RELEASE_NAMESPACE_ANNOTATION) == namespace)


def helm_release_namespaces(kube: Kube, release: str) -> list[str]:
    """Namespaces holding a record of the release (helm keeps each revision in a Secret there)."""
    records = kube.items("secrets", selector=f"owner=helm,name={release}")
    return sorted({r["metadata"]["namespace"] for r in records})
