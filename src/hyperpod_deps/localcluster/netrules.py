"""A local cluster's nftables table on this machine: claimed with its slot at `cluster up`,
changed while the cluster runs (a locally served Service comes or goes), deleted at `down`.

The kernel's ruleset is the registry: a table's name carries its slot, the cluster's name and a
digest of its state folder, so clusters started from different caches never take each other's
table, and a crashed run's table is found (and replaced) by its next `up`. Slot choice runs
under a machine-wide lock so two `up`s at once cannot take the same slot.
"""
from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hyperpod_deps.localcluster import netplan
from hyperpod_deps.localcluster.netplan import LocalRoute, NetworkPlan

RoutesFor = Callable[[NetworkPlan], tuple[LocalRoute, ...]]
LOCK_FILE = Path("/run/lock/hyperpod-deps-network.lock")
ALLOW_EGRESS_HINT = ("or pass --allow-egress to run it anyway, accepting that calls to the cluster's "
                     "Service, pod and node addresses leave this machine by its default route")

NFT_MISSING = "the `nft` command is missing (Debian: apt-get install nftables)"


class NetworkRulesUnavailable(netplan.NetworkError):
    """This process cannot install the rules (not root, no nft, the kernel refused them)."""


def require_rules() -> None:
    """Fail with what to do unless `nft` runs here with the privilege to change the ruleset."""
    if os.geteuid() != 0:
        raise NetworkRulesUnavailable(
            "a local cluster installs nftables rules that keep its address ranges on this machine, "
            f"which needs root: run it as root (sudo), {ALLOW_EGRESS_HINT}")
    if shutil.which("nft") is None:
        raise NetworkRulesUnavailable(f"{NFT_MISSING}; it installs the rules that keep the cluster's "
                                      f"address ranges on this machine. Install it, {ALLOW_EGRESS_HINT}")
    _nft_json("list", "tables")


def claim(cluster: str, state_dir: Path, routes: RoutesFor, real_nodes: int = 0) -> NetworkPlan:
    """Take a free slot (replacing this cluster's table left by a crashed run) and install its
    table with the routes its addresses need (they depend on the slot), open to the subnets of
    `real_nodes` real nodes."""
    require_rules()
    with _machine_lock():
        owner = netplan.owner_digest(state_dir)
        mine, others = _tables_of(cluster, owner)
        for table in mine:
            _nft(f"delete table {netplan.TABLE_FAMILY} {table}\n")
        slot = netplan.free_slot({parsed.slot for parsed in others.values()}, machine_networks())
        plan = NetworkPlan(cluster, owner, slot)
        _nft(netplan.ruleset(plan, routes(plan), real_nodes))
        return plan


def release(cluster: str, state_dir: Path) -> list[str]:
    """Delete the cluster's table(s); returns their names. Nothing else on the machine is touched."""
    if os.geteuid() != 0 or shutil.which("nft") is None:
        return []
    with _machine_lock():
        mine, _ = _tables_of(cluster, netplan.owner_digest(state_dir))
        for table in mine:
            _nft(f"delete table {netplan.TABLE_FAMILY} {table}\n")
    return mine


def installed(plan: NetworkPlan) -> bool:
    return plan.table in table_names()


def find(state_dir: Path) -> NetworkPlan | None:
    """The plan of the cluster whose state folder this is, from its table (None: no table, as
    for a cluster run with --allow-egress, or not on this machine)."""
    if os.geteuid() != 0 or shutil.which("nft") is None:
        return None
    owner = netplan.owner_digest(state_dir)
    for name in table_names():
        parsed = netplan.parse_table(name)
        if parsed is not None and parsed.owner == owner:
            return NetworkPlan(parsed.cluster_token.replace("_", "-"), owner, parsed.slot)
    return None


def add_route(plan: NetworkPlan, route: LocalRoute) -> None:
    """Send `route.address:route.port` to loopback (replacing a route of that address and port)."""
    with contextlib.suppress(NetworkRulesUnavailable):
        _nft(netplan.route_command("delete", plan, route))
    _nft(netplan.route_command("add", plan, route))


def remove_route(plan: NetworkPlan, route: LocalRoute) -> None:
    """Take a route away; missing (or the table gone with its cluster) is fine."""
    with contextlib.suppress(NetworkRulesUnavailable):
        _nft(netplan.route_command("delete", plan, route))


def set_pod_services(plan: NetworkPlan, routes: tuple[LocalRoute, ...]) -> None:
    """The Services served by pods on real nodes are exactly `routes` from now on."""
    _nft(netplan.pod_services_script(plan, routes))


def refused_packets(plan: NetworkPlan) -> int:
    """How many packets the cluster's rules refused (their counters), 0 if the table is gone."""
    try:
        listed = _nft_json("list", "table", netplan.TABLE_FAMILY, plan.table)
    except NetworkRulesUnavailable:
        return 0
    return sum(int(expr["counter"]["packets"])
               for item in listed if "rule" in item
               for expr in item["rule"]["expr"] if "counter" in expr)


def machine_networks(resolv_conf: Path = Path("/etc/resolv.conf")) -> tuple[str, ...]:
    """This machine's own IPv4 addresses, routed networks (the default route aside) and DNS
    servers (reached by the default route, so no route names them)."""
    found: list[str] = [f"{server}/32" for server in nameservers(resolv_conf)]
    for entry in _ip_json("-4", "addr", "show"):
        found += [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])]
    for route in _ip_json("-4", "route", "show", "table", "all"):
        destination = route.get("dst", "default")
        if destination != "default" and route.get("type") not in ("broadcast",):
            found.append(destination if "/" in destination else f"{destination}/32")
    return tuple(found)


def nameservers(resolv_conf: Path) -> list[str]:
    """The IPv4 `nameserver` entries of a resolv.conf (none when it cannot be read)."""
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(str(ipaddress.IPv4Address(fields[1])))
            except ValueError:
                continue  # IPv6: the cluster's rules are IPv4 only
    return found


def _tables_of(cluster: str, owner: str) -> tuple[list[str], dict[str, netplan.TableName]]:
    token = cluster.replace("-", "_")
    mine, others = [], {}
    for name in table_names():
        parsed = netplan.parse_table(name)
        if parsed is None:
            continue
        if (parsed.cluster_token, parsed.owner) == (token, owner):
            mine.append(name)
        else:
            others[name] = parsed
    return mine, others


def table_names() -> list[str]:
    return [item["table"]["name"] for item in _nft_json("list", "tables")
            if "table" in item and item["table"].get("family") == netplan.TABLE_FAMILY]


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _nft(script: str) -> None:
    result = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetworkRulesUnavailable(f"nft refused the rules: {result.stderr.strip()}\nscript:\n{script}")


def _nft_json(*args: str) -> list[dict[str, Any]]:
    try:
        result = subprocess.run(["nft", "-j", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise NetworkRulesUnavailable(NFT_MISSING) from error
    if result.returncode != 0:
        raise NetworkRulesUnavailable(f"nft {' '.join(args)} failed: {result.stderr.strip()}")
    items: list[dict[str, Any]] = json.loads(result.stdout or "{}").get("nftables", [])
    return items


def _ip_json(*args: str) -> list[dict[str, Any]]:
    result = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return []
    parsed: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return parsed
