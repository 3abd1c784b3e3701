"""The local cluster keeps every packet to its addresses on this machine: the kernel's rules as
`cluster up` installs them, what they route to loopback, what they refuse, and clusters side by
side (and a crashed one) never undoing each other's rules."""
from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from hyperpod_deps.localcluster import cluster, netrules
from hyperpod_deps.localcluster.netplan import NetworkPlan
from hyperpod_deps.localcluster.nodespec import from_pairs
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries
from tests.support.kube_support import Kube
from tests.support.waiting import poll

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def plan(local_cluster: cluster.ClusterStatus) -> NetworkPlan:
    found = netrules.find(local_cluster.state_dir)
    assert found is not None, "the session's cluster has no nftables table"
    return found


def test_the_cluster_records_the_ranges_its_table_holds(local_cluster: cluster.ClusterStatus,
                                                        plan: NetworkPlan) -> None:
    assert local_cluster.network == {**plan.as_dict(), "isolated": True}
    assert netrules.installed(plan)


def test_unserved_addresses_are_refused_at_once(plan: NetworkPlan) -> None:
    refused_before = netrules.refused_packets(plan)
    service, pod = plan.service_cidr.replace(".0.0/16", ".200.17"), plan.pod_cidr.replace(".0.0/16", ".9.9")
    for address in (service, pod):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, 443), timeout=20)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(PermissionError):
        udp.sendto(b"query", (service.replace(".200.17", ".0.10"), 53))
    assert netrules.refused_packets(plan) >= refused_before + 3


def test_the_kubernetes_service_address_reaches_the_api_server(local_cluster: cluster.ClusterStatus,
                                                               plan: NetworkPlan) -> None:
    pki = local_cluster.state_dir / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))  # the certificate names the IP
    context.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    url = f"https://{plan.kubernetes_service_ip}/version"
    with urllib.request.urlopen(url, timeout=20, context=context) as answer:
        assert json.load(answer)["gitVersion"] == "v1.35.4"


def test_kubelet_calls_reach_kwok_on_loopback(kube: Kube, fresh_namespace: Callable[[str], str]) -> None:
    namespace = fresh_namespace("e2e-network-logs")
    kube.run("run", "sleeper", "--image=registry.invalid/sleeper:1", "-n", namespace)
    poll(lambda: kube.get("pod", "sleeper", namespace), lambda pod: pod is not None and
         (pod.get("status") or {}).get("phase") == "Running", "the simulated pod to run")
    logs = kube.run("logs", "sleeper", "-n", namespace, check=False)
    # kwok's own server answered (it keeps no logs for this pod); no dial error to the node.
    assert "no logs found" in logs.stderr and "dial tcp" not in logs.stderr, logs.stderr


def test_clusters_side_by_side_and_a_crashed_one(local_cluster: cluster.ClusterStatus, plan: NetworkPlan,
                                                 control_plane_binaries: ControlPlaneBinaries) -> None:
    name = f"e2e-net-{os.getpid()}"
    cluster.down(name)
    second = cluster.up(name, from_pairs([("ml.m5.2xlarge", 1)]), binaries=control_plane_binaries)
    try:
        theirs = netrules.find(second.state_dir)
        assert theirs is not None and theirs.slot != plan.slot
        assert theirs.service_cidr != plan.service_cidr and theirs.pod_cidr != plan.pod_cidr
        _crash(second)
        assert netrules.installed(theirs), "a crashed cluster's table stays until its next up or down"
        again = cluster.up(name, from_pairs([("ml.m5.2xlarge", 1)]), binaries=control_plane_binaries)
        replaced = netrules.find(again.state_dir)
        assert replaced is not None and _tables_of(name) == [replaced.table]
    finally:
        cluster.down(name, purge=True)
    assert _tables_of(name) == []
    assert _processes_of(second.state_dir) == [], "a process of the crashed cluster outlived it"
    assert netrules.installed(plan), "stopping one cluster removed another's rules"
    test_the_kubernetes_service_address_reaches_the_api_server(local_cluster, plan)


def _crash(status: cluster.ClusterStatus) -> None:
    """Every process of the cluster killed at once, as a machine reboot or OOM kill leaves it."""
    for component in status.components:
        if component.pid:
            os.killpg(component.pid, signal.SIGKILL)
    poll(lambda: cluster.status(status.name), lambda now: now.stopped, "the killed cluster to be stopped")


def _processes_of(state_dir: Path) -> list[str]:
    """Command lines naming the cluster's state folder (its registry's config, for one)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) in text:
            found.append(text)
    return found


def _tables_of(name: str) -> list[str]:
    return [table for table in netrules.table_names() if f"_{name.replace('-', '_')}_" in table]
