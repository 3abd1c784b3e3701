"""The instance-type table loads, is consistent, and feeds the chart."""
from __future__ import annotations

from hyperpod_deps.core.instance_types import catalogue, efa_capable, of_family


def test_every_requested_nvidia_family_is_there() -> None:
    families = {name.split(".")[1] for name in of_family("nvidia")}
    assert families == {"g5", "g6", "g6e", "g7e", "gr6", "p4d", "p4de", "p5", "p5e", "p5en",
                        "p6-b200", "p6-b300", "p6e-gb200"}


def test_every_requested_neuron_family_is_there() -> None:
    assert {name.split(".")[1] for name in of_family("neuron")} == {"inf2", "trn1", "trn1n", "trn2"}


def test_accelerated_types_have_devices_and_cpu_types_none() -> None:
    for instance in catalogue().values():
        assert instance.name.startswith("ml.")
        assert (instance.devices > 0) == (instance.family != "cpu"), instance


def test_known_facts() -> None:
    assert catalogue()["ml.p5.48xlarge"].devices == 8
    assert catalogue()["ml.trn1.32xlarge"].devices == 16
    assert "ml.p5.48xlarge" in efa_capable() and "ml.g5.xlarge" not in efa_capable()
