"""The local cluster's OCI registry, as an air-gapped site runs one: Debian's `docker-registry`
(CNCF distribution 2.8) on 127.0.0.1, started and stopped with the cluster.

Its storage lives beside the cluster's state and outlives `cluster down` (images pushed once
stay, as in a site's registry); `cluster down --purge` removes it with everything else.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from hyperpod_deps.localcluster import processes
from hyperpod_deps.localcluster.layout import Layout

COMPONENT = "registry"
BINARY = "docker-registry"
START_TIMEOUT_SECONDS = 30.0
INSTALL_HINT = "apt-get install docker-registry (Debian, Ubuntu)"


class RegistryUnavailable(RuntimeError):
    """No `docker-registry` binary on this machine."""


def binary() -> Path:
    found = shutil.which(BINARY)
    if found is None:
        raise RegistryUnavailable(
            f"the local cluster's registry needs `{BINARY}` (CNCF distribution): {INSTALL_HINT}, "
            "or pass --no-registry to run the cluster without one")
    return Path(found)


def storage(layout: Layout) -> Path:
    return layout.root / "registry"


def config(layout: Layout, port: int) -> dict[str, object]:
    """Loopback only, plain HTTP (nothing leaves the machine), deletes allowed so a test can
    clean up, and no debug listener."""
    return {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage(layout))}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }


def start(layout: Layout, port: int) -> str:
    """Start the registry on 127.0.0.1:`port` and wait until it answers; its address."""
    executable = binary()
    config_file = layout.root / "registry.yaml"
    storage(layout).mkdir(parents=True, exist_ok=True)
    config_file.write_text(yaml.safe_dump(config(layout, port), sort_keys=False))
    processes.start(COMPONENT, [str(executable), "serve", str(config_file)], layout)
    processes.wait_healthy(COMPONENT, f"http://127.0.0.1:{port}/v2/", layout, None, START_TIMEOUT_SECONDS)
    return f"127.0.0.1:{port}"


def stop(layout: Layout) -> None:
    processes.stop(COMPONENT, layout)


def running(layout: Layout) -> bool:
    return processes.running_pid(COMPONENT, layout) is not None
