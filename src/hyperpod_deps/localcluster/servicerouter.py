"""The local cluster's service router: Services whose endpoints are pods on real nodes are
reachable at their ClusterIP from this machine and from pods (the API server calling a webhook,
a pod calling another), by a DNAT to the pod in the cluster's nftables table.

It is the one part of kube-proxy a local cluster needs: the cluster runs no kube-proxy (its
simulated pods have no network), and the real kube-proxy would refuse the Services that are
served on loopback instead (the `kubernetes` Service, locally run operators), which have no
endpoints. Every second it lists Services and EndpointSlices and, when the answer changed,
replaces its whole map in one transaction: a restart (its own, or the API server's) loses nothing.

Run by `cluster up --real-nodes` as `python -m hyperpod_deps.localcluster.servicerouter`.
"""
from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from hyperpod_deps.kube.client import Kube, ResourceType
from hyperpod_deps.kube.errors import KubeError
from hyperpod_deps.localcluster import netrules
from hyperpod_deps.localcluster.netplan import LocalRoute, NetworkPlan

COMPONENT = "service-router"
PERIOD_SECONDS = 1.0
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def routes_for(services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]],
               subnets: Iterable[str]) -> tuple[LocalRoute, ...]:
    """ClusterIP:port -> the first ready endpoint (by address) on a real node, per TCP port."""
    networks = [ipaddress.ip_network(subnet) for subnet in subnets]
    by_service: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for found in slices:
        meta = found.get("metadata", {})
        name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if name:
            by_service.setdefault((meta.get("namespace", ""), name), []).append(found)
    routes = []
    for service in services:
        meta, spec = service.get("metadata", {}), service.get("spec", {})
        cluster_ip = spec.get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            continue
        for port in spec.get("ports") or []:
            if port.get("protocol", "TCP") != "TCP":
                continue
            target = _endpoint(by_service.get((meta.get("namespace", ""), meta.get("name", "")), []),
                               port.get("name") or "", networks)
            if target is not None:
                routes.append(LocalRoute(cluster_ip, int(port["port"]), target[1], target[0]))
    return tuple(sorted(routes, key=lambda r: (r.address, r.port)))


def _endpoint(slices: list[dict[str, Any]], port_name: str,
              networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> tuple[str, int] | None:
    candidates = []
    for found in slices:
        numbers = [p.get("port") for p in found.get("ports") or [] if (p.get("name") or "") == port_name]
        if not numbers or numbers[0] is None:
            continue
        for endpoint in found.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                if any(ipaddress.ip_address(address) in network for network in networks):
                    candidates.append((address, int(numbers[0])))
    return min(candidates) if candidates else None


def run(kubeconfig: Path, plan: NetworkPlan, subnets: tuple[str, ...]) -> None:
    services = ResourceType("v1", "Service", "services", True)
    slices = ResourceType("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGTERM, stop)
    applied: tuple[LocalRoute, ...] | None = None
    client = Kube.connect(kubeconfig)
    while not stopping:
        try:
            wanted = routes_for(client.list(services), client.list(slices), subnets)
        except KubeError as error:  # the API server restarting: keep what is there
            print(f"service-router: listing failed, keeping {len(applied or ())} routes: {error}", flush=True)
        else:
            if wanted != applied:
                netrules.set_pod_services(plan, wanted)
                applied = wanted
                listing = ", ".join(f"{r.address}:{r.port}->{r.target_address}:{r.target_port}"
                                    for r in wanted)
                print(f"service-router: {len(wanted)} routes: {listing}", flush=True)
        time.sleep(PERIOD_SECONDS)
    client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hyperpod_deps.localcluster.servicerouter")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True, help="the cluster's state folder")
    parser.add_argument("--subnet", action="append", default=[], help="a real node's pod subnet")
    args = parser.parse_args(argv)
    plan = netrules.find(args.state_dir)
    if plan is None:
        sys.exit(f"no nftables table for the cluster in {args.state_dir}")
    run(args.kubeconfig, plan, tuple(args.subnet))


if __name__ == "__main__":
    main()
