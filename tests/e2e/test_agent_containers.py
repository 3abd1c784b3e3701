"""The agents image built here (`make image`), run as real containers exactly as the chart's pod
specs ask (tests/support/container_support.py): read-only root, non-root user, no capabilities,
the chart's volumes, in-cluster configuration with the chart's ServiceAccount.

kwok marks pods Running without starting anything; these tests start the process. They found
that the API client needed a writable /tmp, which the chart's read-only root does not give.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from hyperpod_deps import __version__
from hyperpod_deps.core import wire
from hyperpod_deps.localcluster import cluster
from hyperpod_deps.localcluster.nodespec import from_pairs
from hyperpod_deps.localcluster.processes import free_port
from hyperpod_deps.toolchain import agents_image
from hyperpod_deps.toolchain.helm import helm_path, kubectl_path
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries
from tests.support.charts import CHART
from tests.support.container_support import ClusterAccess, PodContainer
from tests.support.health_agent_support import (
    AGENT_NAMESPACE,
    SERVICE_ACCOUNT,
    XID79,
    NodeState,
    create_node,
    install_agent_rbac,
    syslog,
)
from tests.support.journal_files import kernel, logger_line, needs_remote, write_journal
from tests.support.kube_support import Kube
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e]

NODE = "real-agent-node"


@pytest.fixture(scope="module")
def image_layout(built_agents_image: agents_image.BuiltImage) -> Path:
    assert os.geteuid() == 0, "runc needs root"
    return built_agents_image.layout


@dataclass(frozen=True)
class World:
    kube: Kube
    access: ClusterAccess


@pytest.fixture(scope="module")
def world(
    control_plane_binaries: ControlPlaneBinaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    name = f"containers-{os.getpid()}"
    admin = tmp_path_factory.mktemp("containers") / "admin.kubeconfig"
    cluster.up(name, from_pairs([("ml.m5.2xlarge", 1)]), admin, binaries=control_plane_binaries)
    try:
        kube = Kube((str(kubectl_path()), "--kubeconfig", str(admin)))
        install_agent_rbac(kube)
        token = kube.run(
            "create", "token", SERVICE_ACCOUNT, "--namespace", AGENT_NAMESPACE, "--duration", "2h"
        ).stdout.strip()
        yield World(kube, _access(admin, token))
    finally:
        cluster.down(name, purge=True)


def _access(admin: Path, token: str) -> ClusterAccess:
    config = yaml.safe_load(admin.read_text())
    server = config["clusters"][0]["cluster"]
    url = urlparse(server["server"])
    assert url.hostname and url.port, server["server"]
    ca = base64.b64decode(server["certificate-authority-data"]).decode()
    return ClusterAccess(url.hostname, url.port, token, ca, AGENT_NAMESPACE)


def rendered(*assignments: str) -> list[dict[str, Any]]:
    """The chart rendered with `--set` assignments; a fractional number goes by `--set-json`,
    since `--set` turns 0.05 into the string "0.05"."""
    args = [str(helm_path(3)), "template", "dependencies", str(CHART), "--namespace", "kube-system"]
    for assignment in assignments:
        value = assignment.partition("=")[2]
        fractional = "." in value and value.replace(".", "", 1).isdigit()
        args += ["--set-json" if fractional else "--set", assignment]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(output) if d]


def open_agent_pod(
    metrics_port: int, *, journal: bool = False
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The open agent's NVIDIA DaemonSet pod spec and its ConfigMaps, as the chart renders them for
    a generic cluster: with `journal`, reading the host's journal (the chart's default: no
    /dev/kmsg, the pod runs as user 65532 in groups adm and systemd-journal), else
    /var/log/kern.log, whose kernel tag the site vouches for."""
    agent = "health-monitoring-agent.openAgent.config"
    sources = [f"{agent}.sources.journal.pollIntervalSeconds=0.05"] if journal else [
        f"{agent}.sources.logFiles.paths={{/var/log/kern.log}}",
        f"{agent}.sources.logFiles.pollIntervalSeconds=0.05",
        f"{agent}.sources.logFiles.trustKernelTag=true",
        f"{agent}.sources.journal.enabled=false",
    ]
    objects = rendered(
        "global.platform=generic",
        *sources,
        f"{agent}.writer.debounceSeconds=0.3",
        f"{agent}.metricsPort={metrics_port}",
        "job-auto-restart.enabled=false",
        "trainingOperators.enabled=false",
        "mpi-operator.enabled=false",
    )
    daemonsets = [
        o
        for o in objects
        if o["kind"] == "DaemonSet"
        and o["spec"]["template"]["spec"].get("serviceAccountName") == SERVICE_ACCOUNT
    ]
    assert daemonsets, "the open agent's DaemonSets"
    pod = daemonsets[0]["spec"]["template"]["spec"]
    config_maps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    return pod, config_maps


def container(
    world: World,
    tmp_path: Path,
    pod: dict[str, Any],
    config_maps: dict[str, dict[str, str]],
    image_layout: Path,
) -> PodContainer:
    (tmp_path / "host-log").mkdir()
    (tmp_path / "host-log" / "kern.log").touch()
    return PodContainer(
        pod=pod,
        container=pod["containers"][0]["name"],
        image_layout=image_layout,
        workdir=tmp_path,
        host_paths={
            "/var/log": tmp_path / "host-log",
            "/var/lib/hyperpod-deps/health-agent": tmp_path / "state",
            "/sys": Path("/sys"),
        },
        config_maps=config_maps,
        access=world.access,
        env={"NODE_NAME": NODE},
    )


def prepare_state(runner: PodContainer, pod: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """The pod's init container, run first as the kubelet would, in its own bundle; the state
    directory made root-owned, as the kubelet's DirectoryOrCreate leaves it."""
    (init,) = pod["initContainers"]
    state = runner.workdir / "state"
    state.mkdir(mode=0o755)
    os.chown(state, 0, 0)
    init_dir = runner.workdir / "init"
    init_dir.mkdir()
    initializer = PodContainer(
        pod=pod,
        container=init["name"],
        image_layout=runner.image_layout,
        workdir=init_dir,
        host_paths=runner.host_paths,
        config_maps=runner.config_maps,
        access=runner.access,
    )
    return initializer.run()


def test_the_image_runs_as_the_chart_says(world: World, image_layout: Path, tmp_path: Path) -> None:
    pod, config_maps = open_agent_pod(free_port())
    runner = container(world, tmp_path, pod, config_maps, image_layout)
    runner.pod = {**pod, "containers": [{**pod["containers"][0], "command": ["hyperpod-deps", "--version"]}]}
    done = runner.run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert __version__ in done.stdout
    config = (runner.bundle / "config.json").read_text()
    assert '"readonly": true' in config and '"uid": 65532' in config
    rootfs = runner.bundle / "rootfs"
    for name in ("resolv.conf", "hostname"):
        assert (rootfs / "etc" / name).read_text() == "", f"the image carries the build machine's /etc/{name}"


def test_the_open_agent_quarantines_its_node_from_a_real_container(
    world: World, image_layout: Path, tmp_path: Path
) -> None:
    create_node(world.kube, NODE)
    pod, config_maps = open_agent_pod(free_port())
    runner = container(world, tmp_path, pod, config_maps, image_layout)
    prepared = prepare_state(runner, pod)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    assert (tmp_path / "state").stat().st_uid == 65532, "the init container hands the state directory over"
    runner.start()
    try:
        poll(
            lambda: [line for line in runner.log_lines() if "health agent started" in line],
            bool,
            "the agent in its container to start",
            60,
        )
        with (tmp_path / "host-log" / "kern.log").open("a") as log:
            log.write(syslog(XID79.format(pid=4242)))
        node = poll(
            lambda: NodeState.of(world.kube, NODE),
            lambda n: n.health == wire.UNSCHEDULABLE_PENDING_REPLACEMENT,
            f"{NODE} quarantined by the agent in its container",
            60,
        )
        assert node.tainted
        assert node.conditions["NvidiaGPUUnhealthy"]["reason"] == "XidHardwareFailure"
    finally:
        code = runner.stop()
    output = "\n".join(runner.log_lines())
    assert code == 0, f"the agent did not stop cleanly on SIGTERM ({code}):\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    # Kept once the writer is idle, and on the way out at the latest.
    assert list((tmp_path / "state").iterdir()), "the agent keeps its read position on the hostPath"


SYSTEMD_JOURNAL_GID = 190  # Amazon Linux's and Fedora's; one of the chart's default groups


@needs_remote
def test_the_unprivileged_agent_acts_on_the_kernels_journal_records_only(
    world: World, image_layout: Path, tmp_path: Path
) -> None:
    """The chart's default pod: the host's journal, readable only by root and systemd-journal as
    journald leaves it, read by user 65532 through the pod's groups. A `logger` line quoting an
    Xid 79 acts on nothing; the same line from the kernel quarantines the node."""
    node = "journal-agent-node"
    create_node(world.kube, node)
    pod, config_maps = open_agent_pod(free_port(), journal=True)
    assert 190 in pod["securityContext"]["supplementalGroups"]
    runner = container(world, tmp_path, pod, config_maps, image_layout)
    runner.env = {"NODE_NAME": node}
    folder = tmp_path / "host-log" / "journal" / "0123456789abcdef0123456789abcdef"
    folder.mkdir(parents=True)
    journal = write_journal(folder / "system.journal", [kernel("Linux version 6.1.0 (builder)")])
    for path, mode in ((folder.parent, 0o2755), (folder, 0o2750), (journal, 0o640)):
        os.chown(path, 0, SYSTEMD_JOURNAL_GID)
        path.chmod(mode)
    assert prepare_state(runner, pod).returncode == 0
    runner.start()
    try:
        poll(lambda: [line for line in runner.log_lines() if "health agent started" in line], bool,
             "the agent in its container to start", 60)
        forged = XID79.format(pid=4242)
        write_journal(journal, [logger_line(forged)], start=1)
        poll(lambda: [line for line in runner.log_lines() if "not acted on" in line], bool,
             "the agent to read the logger line and decline it", 60)
        assert NodeState.of(world.kube, node).health != wire.UNSCHEDULABLE_PENDING_REPLACEMENT
        write_journal(journal, [kernel(forged)], start=2)
        state = poll(lambda: NodeState.of(world.kube, node),
                     lambda n: n.health == wire.UNSCHEDULABLE_PENDING_REPLACEMENT,
                     f"{node} quarantined from the kernel's journal record", 60)
        assert state.conditions["NvidiaGPUUnhealthy"]["reason"] == "XidHardwareFailure"
    finally:
        code = runner.stop()
    output = "\n".join(runner.log_lines())
    assert code == 0 and "Traceback" not in output, output[-3000:]
    assert "permission" not in output.lower(), output[-3000:]
