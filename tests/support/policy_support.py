"""The chart's admission policies rendered as `helm install` renders them against a server that
serves ValidatingAdmissionPolicy (their default is "on where served")."""
from __future__ import annotations

import subprocess

from hyperpod_deps.toolchain.helm import helm_path
from tests.support.charts import CHART

SERVED = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"


def rendered(templates: list[str], *set_values: str, release: str = "policy-e2e") -> str:
    """Only `templates` (paths in the umbrella chart), with `set_values` (--set)."""
    show = [f"--show-only={template}" for template in templates]
    values = [arg for value in set_values for arg in ("--set", value)]
    return subprocess.run(
        [str(helm_path(3)), "template", release, str(CHART), "--namespace", "kube-system",
         "--api-versions", SERVED, *values, *show],
        capture_output=True, text=True, check=True).stdout
