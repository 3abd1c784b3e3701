"""What a simulated node of an instance type offers: CPUs, memory, accelerators, EFA devices.

Accelerator counts come from the project's one instance-type table (core/instance_types.yaml);
CPU, memory and EFA interface counts are AWS's published figures for the common training types,
estimated from the size name for the rest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from hyperpod_deps.core.instance_types import catalogue

NVIDIA_GPU = "nvidia.com/gpu"
EFA = "vpc.amazonaws.com/efa"
NEURON_DEVICE = "aws.amazon.com/neuron"
NEURON_CORE = "aws.amazon.com/neuroncore"


@dataclass(frozen=True)
class InstanceShape:
    instance_type: str
    vcpus: int
    memory_gib: int
    accelerator: str  # "nvidia", "neuron" or "cpu"
    devices: int
    efa: int

    def extended_resources(self) -> dict[str, str]:
        resources_: dict[str, str] = {}
        if self.accelerator == "nvidia" and self.devices:
            resources_[NVIDIA_GPU] = str(self.devices)
        if self.accelerator == "neuron" and self.devices:
            resources_[NEURON_DEVICE] = str(self.devices)
            resources_[NEURON_CORE] = str(self.devices * _neuron_cores_per_device(self.instance_type))
        if self.efa:
            resources_[EFA] = str(self.efa)
        return resources_


# (vCPUs, memory GiB, EFA interfaces) as AWS publishes them.
_PUBLISHED: dict[str, tuple[int, int, int]] = {
    "ml.p5.48xlarge": (192, 2048, 32),
    "ml.p5e.48xlarge": (192, 2048, 32),
    "ml.p5en.48xlarge": (192, 2048, 16),
    "ml.p4d.24xlarge": (96, 1152, 4),
    "ml.p4de.24xlarge": (96, 1152, 4),
    "ml.p6-b200.48xlarge": (192, 2048, 8),
    "ml.g5.xlarge": (4, 16, 0),
    "ml.g5.8xlarge": (32, 128, 1),
    "ml.g5.12xlarge": (48, 192, 1),
    "ml.g5.48xlarge": (192, 768, 1),
    "ml.trn1.2xlarge": (8, 32, 0),
    "ml.trn1.32xlarge": (128, 512, 8),
    "ml.trn1n.32xlarge": (128, 512, 16),
    "ml.trn2.48xlarge": (192, 2048, 16),
    "ml.m5.2xlarge": (8, 32, 0),
    "ml.m5.12xlarge": (48, 192, 0),
    "ml.c5.2xlarge": (8, 16, 0),
}
# GiB of memory per vCPU by family letter, for types not listed above.
_MEMORY_PER_VCPU = {"c": 2, "m": 4, "r": 8, "g": 4, "p": 10, "t": 4, "i": 4}


class UnknownInstanceType(ValueError):
    """Not an ml.* instance type name the simulation can size."""


_NAME = re.compile(r"^ml\.([a-z]+)[0-9a-z-]*\.(\d*)(x?large|metal)$")


def shape(instance_type: str) -> InstanceShape:
    match = _NAME.match(instance_type)
    if not match:
        raise UnknownInstanceType(
            f"{instance_type!r} is not a HyperPod instance type (expected e.g. ml.p5.48xlarge)")
    family, known = match.group(1), catalogue().get(instance_type)
    kind, devices, has_efa = (known.family, known.devices, known.efa) if known else ("cpu", 0, False)
    if instance_type in _PUBLISHED:
        vcpus, memory, efa = _PUBLISHED[instance_type]
    else:
        vcpus = _vcpus_from_size(match.group(2), match.group(3))
        memory = vcpus * _MEMORY_PER_VCPU.get(family[0], 4)
        efa = 1 if has_efa else 0
    return InstanceShape(instance_type, vcpus, memory, kind, devices, efa)


def _vcpus_from_size(multiple: str, size: str) -> int:
    if size == "large":
        return 2
    return 4 * int(multiple or "1") if size == "xlarge" else 96


def _neuron_cores_per_device(instance_type: str) -> int:
    return 8 if instance_type.startswith(("ml.trn2", "ml.trn3")) else 2
