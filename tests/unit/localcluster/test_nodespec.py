"""Node specs become the Node objects kwok manages, sized from the instance-type table."""
from __future__ import annotations

from typing import Any

import pytest

from hyperpod_deps.localcluster import nodespec
from hyperpod_deps.localcluster.instances import EFA, NEURON_CORE, NEURON_DEVICE, NVIDIA_GPU, shape


def _by_type(nodes: list[dict[str, Any]], instance_type: str) -> list[dict[str, Any]]:
    return [n for n in nodes if n["metadata"]["labels"]["node.kubernetes.io/instance-type"] == instance_type]


def test_default_mix() -> None:
    nodes = nodespec.node_objects("c", nodespec.default_spec())
    counts = {t: len(_by_type(nodes, t)) for t, _ in nodespec.DEFAULT_GROUPS}
    assert counts == {"ml.p5.48xlarge": 2, "ml.g5.8xlarge": 1, "ml.trn1.32xlarge": 1, "ml.m5.2xlarge": 1}


def test_p5_node_is_a_kwok_node_with_gpus_and_efa() -> None:
    node = _by_type(nodespec.node_objects("c", nodespec.default_spec()), "ml.p5.48xlarge")[0]
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    labels = node["metadata"]["labels"]
    assert labels["sagemaker.amazonaws.com/node-health-status"] == "Schedulable"
    assert labels["topology.kubernetes.io/region"] == "us-west-2"
    assert labels["topology.kubernetes.io/zone"] == "us-west-2a"
    capacity = node["status"]["capacity"]
    assert capacity[NVIDIA_GPU] == "8"
    assert capacity[EFA] == "32"
    assert capacity["cpu"] == "192"
    assert capacity["memory"] == "2Ti"  # canonical, as the API server stores it
    assert capacity["pods"] == "110"
    assert node["status"]["allocatable"] == capacity
    assert "taints" not in node["spec"]


def test_trainium_has_neuron_devices_and_cores() -> None:
    facts = shape("ml.trn1.32xlarge").extended_resources()
    assert facts[NEURON_DEVICE] == "16"
    assert facts[NEURON_CORE] == "32"
    assert NVIDIA_GPU not in facts
    assert shape("ml.trn2.48xlarge").extended_resources()[NEURON_CORE] == "128"


def test_cpu_node_has_no_extended_resources() -> None:
    assert shape("ml.m5.2xlarge").extended_resources() == {}


def test_unlisted_type_is_sized_from_its_name() -> None:
    facts = shape("ml.g6.12xlarge")
    assert (facts.vcpus, facts.memory_gib, facts.devices, facts.efa) == (48, 192, 4, 1)


def test_names_are_hyperpod_style_unique_and_stable() -> None:
    spec = nodespec.default_spec()
    names = [n["metadata"]["name"] for n in nodespec.node_objects("c", spec)]
    assert len(set(names)) == len(names) == 5
    assert all(name.startswith("hyperpod-i-0") and len(name) == 28 for name in names)
    assert names == [n["metadata"]["name"] for n in nodespec.node_objects("c", spec)]


def test_spec_file() -> None:
    spec = nodespec.parse(
        "region: eu-north-1\n"
        "instanceGroups:\n"
        "  - {instanceType: ml.p4d.24xlarge, count: 3, name: train, zone: eu-north-1b}\n"
        "  - {instanceType: ml.c5.2xlarge}\n")
    assert spec.region == "eu-north-1"
    assert spec.groups[0] == nodespec.InstanceGroup("train", "ml.p4d.24xlarge", 3, "eu-north-1b")
    assert spec.groups[1] == nodespec.InstanceGroup("c5-2xlarge", "ml.c5.2xlarge", 1, "eu-north-1b")
    node = nodespec.node_objects("c", spec)[0]
    assert node["metadata"]["labels"]["sagemaker.amazonaws.com/instance-group-name"] == "train"


@pytest.mark.parametrize(("text", "message"), [
    ("- a", "instanceGroups"),
    ("instanceGroups: []", "no instance groups"),
    ("instanceGroups: [{instanceType: p5.48xlarge}]", "not a HyperPod instance type"),
    ("instanceGroups: [{instanceType: ml.p5.48xlarge, count: 0}]", "count must be"),
    ("instanceGroups: [{instanceType: ml.p5.48xlarge, cnt: 2}]", "unknown keys ['cnt']"),
    ("regions: x\ninstanceGroups: [{instanceType: ml.p5.48xlarge}]", "unknown keys ['regions']"),
    ("instanceGroups: [{instanceType: ml.p5.48xlarge}, {instanceType: ml.p5.48xlarge}]", "repeat"),
    ("instanceGroups: [{instanceType: ml.p5.48xlarge, name: GPU}]", "lowercase"),
])
def test_bad_specs_say_why(text: str, message: str) -> None:
    with pytest.raises(nodespec.NodeSpecError, match=None) as caught:
        nodespec.parse(text, "nodes.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("nodes.yaml")


def test_node_flags() -> None:
    assert nodespec.parse_flag("ml.p5.48xlarge=2") == ("ml.p5.48xlarge", 2)
    assert nodespec.parse_flag("ml.g5.xlarge") == ("ml.g5.xlarge", 1)
    with pytest.raises(nodespec.NodeSpecError):
        nodespec.parse_flag("ml.g5.xlarge=two")
    spec = nodespec.from_pairs([("ml.p5.48xlarge", 2), ("ml.m5.2xlarge", 1)])
    assert [(g.instance_type, g.count) for g in spec.groups] == [("ml.p5.48xlarge", 2), ("ml.m5.2xlarge", 1)]
