"""Which region's image the AWS health agent pulls when no region is set: the chart reads the
nodes' topology.kubernetes.io/region label with Helm's lookup, which only works against a real
API server (`helm template` sees no cluster). The local cluster's nodes carry the node spec's
region (us-west-2 by default); `helm install --dry-run=server` renders with lookup and creates
nothing."""
from __future__ import annotations

import json

import pytest
import yaml

from hyperpod_deps.localcluster.nodespec import DEFAULT_REGION
from tests.support.helm_support import HelmCli
from tests.support.kube_support import Kube

pytestmark = [pytest.mark.e2e]

ACCOUNTS = {"us-west-2": "905418368575", "eu-west-1": "533267293120", "us-east-1": "767398015722"}
AGENTS = ("health-monitoring-agent", "health-monitoring-agent-non-nvidia")
REGION_LABEL = "topology.kubernetes.io/region"


def dry_run(helm: HelmCli, *assignments: str) -> tuple[set[str], str]:
    """The agent images and the agent's NOTES line of a server-side dry run."""
    args = ["install", "dependencies", "helm_chart/HyperPodHelmChart", "--namespace", "kube-system",
            "--dry-run=server", "--output", "json"]
    for assignment in assignments:
        args += ["--set", assignment]
    release = json.loads(helm.run(*args).stdout)
    images = {container["image"]
              for obj in yaml.safe_load_all(release["manifest"]) if obj and obj["kind"] == "DaemonSet"
              and obj["metadata"]["name"] in AGENTS
              for container in obj["spec"]["template"]["spec"]["containers"]}
    line = next(text for text in release["info"]["notes"].splitlines() if "health-monitoring-agent:" in text)
    return images, line


def image(region: str) -> str:
    return (f"{ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com/hyperpod-health-monitoring-agent:"
            "1.0.1892.0_1.0.424.0")


def test_the_nodes_region_is_used_when_none_is_set(helm_cli: HelmCli, kube: Kube) -> None:
    regions = {node["metadata"]["labels"].get(REGION_LABEL) for node in kube.cluster_items("nodes")}
    assert regions == {DEFAULT_REGION} and DEFAULT_REGION != "us-east-1"
    images, line = dry_run(helm_cli)
    assert images == {image(DEFAULT_REGION)}
    assert f"region {DEFAULT_REGION} from the nodes' {REGION_LABEL} label" in line


@pytest.mark.parametrize("assignment",
                         ["global.region=eu-west-1", "health-monitoring-agent.region=eu-west-1"])
def test_a_region_set_in_values_wins_over_the_nodes(helm_cli: HelmCli, assignment: str) -> None:
    images, line = dry_run(helm_cli, assignment)
    assert images == {image("eu-west-1")}
    assert "region eu-west-1 from " + assignment.split("=", 1)[0] in line
