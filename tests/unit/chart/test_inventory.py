"""Inventory of a render: images, placements and components from manifests."""
from __future__ import annotations

from typing import Any

from hyperpod_deps.chart.inventory import images, inventory, required_instance_types
from hyperpod_deps.cli.table import table


def workload(kind: str, component: str, image: str, **pod: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": f"{component}-{kind.lower()}", "namespace": "kube-system",
                     "labels": {"app.kubernetes.io/component": component}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}], **pod}}},
    }


def affinity(*types: str) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                               "values": list(types)}]}]}}}


def test_images_are_unique_and_include_init_containers() -> None:
    a = workload("Deployment", "x", "b:1")
    a["spec"]["template"]["spec"]["initContainers"] = [{"name": "i", "image": "a:1"}]
    cron = {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {
        "template": {"spec": {"containers": [{"name": "c", "image": "c:1"}]}}}}}}
    assert images([a, workload("DaemonSet", "y", "b:1"), cron]) == ["a:1", "b:1", "c:1"]


def test_required_instance_types() -> None:
    assert required_instance_types({"affinity": affinity("ml.p5.48xlarge")}) == ["ml.p5.48xlarge"]
    assert required_instance_types({}) is None
    assert required_instance_types({"nodeSelector": {"node.kubernetes.io/instance-type": "t"}}) == ["t"]


def test_inventory_keeps_known_components_in_order_and_marks_empty_ones_off() -> None:
    objects = [
        workload("DaemonSet", "plugin", "p:1", affinity=affinity("ml.g5.xlarge", "ml.p5.48xlarge")),
        workload("Deployment", "operator", "o:1"),
    ]
    entries = inventory(objects, ["absent", "operator", "plugin"])
    assert [e.name for e in entries] == ["absent", "operator", "plugin"]
    absent, operator, plugin = entries
    assert not absent.enabled and operator.enabled
    assert plugin.placements == {"plugin-daemonset": ["ml.g5.xlarge", "ml.p5.48xlarge"]}
    assert operator.namespaces == {"kube-system"}
    assert operator.objects_by_kind["Deployment"] == 1


def test_table_pads_columns_and_stacks_multiline_cells() -> None:
    text = table(["A", "BB"], [["long-cell", "x\ny"]])
    assert text.splitlines() == ["A          BB", "long-cell  x", "           y"]
