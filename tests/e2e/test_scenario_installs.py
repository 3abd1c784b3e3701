"""Every scenario in helm_chart/HyperPodHelmChart/ci installs on the real local control plane,
one at a time, and every Deployment and DaemonSet it creates becomes ready.

What a scenario expects from the cluster's owner is provided first, worked out from its
render (a Secret named by `existingSecret`); claims that only a storage provisioner could
fill get a volume made for them, as an admin of a cluster without one would.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.chart.render import RenderRequest, render_text
from tests.support.charts import CHART, SCENARIOS
from tests.support.helm_support import NAMESPACE, RELEASE, HelmCli
from tests.support.kube_support import Kube
from tests.support.prerequisites import (
    SECRET_KINDS,
    documents_of_kinds,
    missing_secrets,
    placeholder_secret,
    volume_for,
    waits_for_a_provisioner,
)
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INSTANCE_SELECTOR = f"app.kubernetes.io/instance={RELEASE}"
CHART_ARGUMENT = "helm_chart/HyperPodHelmChart"  # as users type it, from the repository root


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name.removesuffix("-values.yaml") for s in SCENARIOS])
def test_scenario_installs_and_becomes_ready(scenario: Path, helm3_cli: HelmCli, kube: Kube,
                                             clean_release: None) -> None:
    rendered = render_text(helm3_cli.binary, RenderRequest(chart=CHART, values_files=(scenario,)))
    secrets = missing_secrets(documents_of_kinds(rendered, SECRET_KINDS), NAMESPACE)
    for ref, keys in secrets.items():
        kube.create(placeholder_secret(ref, keys))
    volumes: list[str] = []
    try:
        helm3_cli.run("install", RELEASE, CHART_ARGUMENT, "--namespace", NAMESPACE, "--values", str(scenario))
        volumes = provide_volumes(kube)
        kube.wait_release_ready(RELEASE)
        poll(lambda: kube.items("persistentvolumeclaims", selector=INSTANCE_SELECTOR),
             lambda claims: all(c["status"].get("phase") == "Bound" for c in claims),
             "every claim of the release to be Bound")
    finally:
        helm3_cli.uninstall()
        kept_claims = kube.items("persistentvolumeclaims", selector=INSTANCE_SELECTOR)
        for claim in kept_claims:
            kube.delete("persistentvolumeclaim", [claim["metadata"]["name"]], claim["metadata"]["namespace"])
        kube.delete("persistentvolume", volumes)
        for namespace, name in secrets:
            kube.delete("secret", [name], namespace)


def provide_volumes(kube: Kube) -> list[str]:
    made = []
    for claim in kube.items("persistentvolumeclaims", selector=INSTANCE_SELECTOR):
        if waits_for_a_provisioner(claim):
            volume = volume_for(claim)
            kube.create(volume)
            made.append(volume["metadata"]["name"])
    return made
