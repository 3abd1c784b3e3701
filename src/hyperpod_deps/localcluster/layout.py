"""Where a local cluster keeps its state, and which loopback ports it listens on."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from hyperpod_deps.toolchain.cache import cache_root

DEFAULT_NAME = "hyperpod-local"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


class ClusterNameError(ValueError):
    pass


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ClusterNameError(f"cluster name {name!r}: use lowercase letters, digits and '-' (at most 40)")
    return name


@dataclass(frozen=True)
class Layout:
    """Every path a cluster uses, all under clusters/<name>/ in the cache."""

    name: str
    root: Path

    @classmethod
    def for_cluster(cls, name: str) -> Layout:
        return cls(check_name(name), cache_root() / "clusters" / name)

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def default_kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def component_kubeconfig(self, component: str) -> Path:
        return self.root / "kubeconfigs" / f"{component}.kubeconfig"

    @property
    def kwok_config(self) -> Path:
        return self.root / "kwok.yaml"

    def pid_file(self, component: str) -> Path:
        return self.run / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
