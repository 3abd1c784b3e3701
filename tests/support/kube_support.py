"""The cluster as the tests see it: kubectl with the cluster's kubeconfig, JSON in and out."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.expectations import not_ready
from tests.support.waiting import poll

ApiObject = dict[str, Any]


class KubectlFailed(AssertionError):
    """kubectl exited non-zero; the message carries the command and its output."""


@dataclass(frozen=True)
class Kube:
    kubectl: tuple[str, ...]  # the binary and --kubeconfig

    def run(self, *args: str, stdin: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.kubectl, *args], input=stdin, capture_output=True, text=True,
                                check=False)
        if check and result.returncode != 0:
            raise KubectlFailed(f"kubectl {' '.join(args)} exited {result.returncode}:\n"
                                f"{result.stdout}{result.stderr}")
        return result

    def items(self, resource: str, namespace: str | None = None,
              selector: str | None = None) -> list[ApiObject]:
        """Every object of a resource; in every namespace when none is given."""
        args = ["get", resource, "-o", "json"]
        args += ["--namespace", namespace] if namespace else ["--all-namespaces"]
        if selector:
            args += ["--selector", selector]
        found: list[ApiObject] = json.loads(self.run(*args).stdout)["items"]
        return found

    def cluster_items(self, resource: str, selector: str | None = None) -> list[ApiObject]:
        args = ["get", resource, "-o", "json"] + (["--selector", selector] if selector else [])
        found: list[ApiObject] = json.loads(self.run(*args).stdout)["items"]
        return found

    def get(self, resource: str, name: str, namespace: str | None = None) -> ApiObject | None:
        """The object, or None when it does not exist."""
        args = ["get", resource, name, "-o", "json", "--ignore-not-found"]
        if namespace:
            args += ["--namespace", namespace]
        text = self.run(*args).stdout.strip()
        return json.loads(text) if text else None

    def exists(self, resource: str, name: str, namespace: str | None = None) -> bool:
        return self.get(resource, name, namespace) is not None

    def create(self, obj: ApiObject) -> None:
        self.run("create", "-f", "-", stdin=json.dumps(obj))

    def delete(self, resource: str, names: Iterable[str], namespace: str | None = None) -> None:
        """Delete without waiting; a missing object is not an error."""
        listed = list(names)
        if not listed:
            return
        args = ["delete", resource, *listed, "--ignore-not-found", "--wait=false"]
        if namespace:
            args += ["--namespace", namespace]
        self.run(*args)

    def wait_gone(self, resource: str, names: Sequence[str], namespace: str | None = None,
                  timeout_seconds: float = 90) -> None:
        poll(lambda: [n for n in names if self.exists(resource, n, namespace)], lambda left: not left,
             f"{resource} {list(names)} to be deleted", timeout_seconds)

    def allowed(self, user: str, group: str, verb: str, resource: str, api_group: str = "",
                namespace: str = "", name: str = "") -> bool:
        """The API server's own authorization answer (a SubjectAccessReview).

        Not `kubectl auth can-i`: for a resource the server does not serve (Kueue's, here) it
        guesses the API group from the dots in the name, and asks about the wrong one.
        """
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": user, "groups": [group], "resourceAttributes": {
                      "verb": verb, "resource": resource, "group": api_group, "namespace": namespace,
                      "name": name}}}
        answer = json.loads(self.run("create", "-f", "-", "-o", "json", stdin=json.dumps(review)).stdout)
        return bool(answer["status"].get("allowed"))

    def terminating_namespaces(self) -> list[str]:
        return [ns["metadata"]["name"] for ns in self.cluster_items("namespaces")
                if ns.get("status", {}).get("phase") == "Terminating"]

    def wait_no_namespace_terminating(self, timeout_seconds: float = 120) -> None:
        """A namespace being deleted refuses new objects: installs wait for deletions to finish."""
        poll(self.terminating_namespaces, lambda names: not names, "terminating namespaces to go",
             timeout_seconds)

    def wait_release_ready(self, release: str, timeout_seconds: float = 120) -> list[ApiObject]:
        """Every Deployment of the release Available and every DaemonSet rolled out, in any namespace."""
        selector = f"app.kubernetes.io/instance={release}"
        return poll(lambda: self.items("deployments,daemonsets", selector=selector),
                    lambda workloads: not not_ready(workloads),
                    f"every Deployment and DaemonSet of release {release} to be ready", timeout_seconds)
