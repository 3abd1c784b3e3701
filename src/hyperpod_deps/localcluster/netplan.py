"""The addresses a local cluster claims on this machine, and the nftables table that keeps every
packet to them here (pure: a slot in, address ranges and an nft script out).

A local cluster has no kube-proxy and no pod network, yet its API server calls Services by
their ClusterIP (webhooks, aggregated APIs) and nodes by their InternalIP (logs, exec). Nothing
routes those ranges, so without rules such a call follows the default route off the machine.
Each cluster therefore owns one nftables table that
- sends the addresses served locally (the `kubernetes` Service, a locally run webhook, the
  simulated nodes' kubelet endpoint) to a loopback port (DNAT in the output hook), and
- refuses everything else in its ranges at once (a TCP reset, or ICMP admin-prohibited), in the
  output hook for this machine's processes and the forward hook for containers on it.

Clusters side by side each take a slot, and with it ranges of their own: a ClusterIP is then
never ambiguous, and deleting one cluster's table leaves the others' rules whole.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
SLOTS = 12  # 10.96+k service ranges and 10.244+k pod ranges, k < 12, stay inside 10.0.0.0/8
TABLE_FAMILY = "ip"
TABLE_PREFIX = "hyperpod_deps_"
KUBELET_PORT = 10250  # the simulated nodes' advertised kubelet port (kwok serves it)
# Real kubelet nodes take /24s of the pod range's upper half, below the simulated nodes' address:
# the bridge holds the node's address (.1), its pods the rest.
MAX_REAL_NODES = 8
HTTPS_PORT = 443
_TABLE = re.compile(rf"^{TABLE_PREFIX}s(\d+)_([a-z0-9_]+)_([0-9a-f]{{8}})$")


class NetworkError(RuntimeError):
    """The cluster's network rules could not be planned or installed; the message says what to do."""


class NoFreeSlot(NetworkError):
    """Every slot's ranges are held by another local cluster on this machine."""


@dataclass(frozen=True)
class LocalRoute:
    """Connections to `address:port` go to `target_address`:`target_port` instead (loopback, or
    a pod on a real node's bridge: both on this machine)."""

    address: str
    port: int
    target_port: int
    target_address: str = LOOPBACK

    def element(self) -> str:
        return f"{self.address} . {self.port} : {self.target_address} . {self.target_port}"


@dataclass(frozen=True)
class NetworkPlan:
    cluster: str
    owner: str  # short digest of the cluster's state folder: two caches may hold the same name
    slot: int

    @property
    def service_cidr(self) -> str:
        return f"10.{96 + self.slot}.0.0/16"

    @property
    def pod_cidr(self) -> str:
        return f"10.{244 + self.slot}.0.0/16"

    @property
    def kwok_pod_cidr(self) -> str:
        """Where kwok takes simulated pods' addresses: the pod range's lower half, clear of the node."""
        return f"10.{244 + self.slot}.0.0/17"

    @property
    def kubernetes_service_ip(self) -> str:
        """The first address of the service range: the API server gives it to `kubernetes`."""
        return f"10.{96 + self.slot}.0.1"

    @property
    def node_ip(self) -> str:
        """Every simulated node's InternalIP (kwok gives them all one), inside the pod range so
        that the cluster claims no third range of this machine's address space."""
        return f"10.{244 + self.slot}.255.254"

    def real_node_subnet(self, index: int) -> str:
        """The pod subnet of real node `index`: its bridge (and node address) is the first host."""
        if not 0 <= index < MAX_REAL_NODES:
            raise NetworkError(f"real node {index}: a local cluster holds at most {MAX_REAL_NODES}")
        return f"10.{244 + self.slot}.{128 + index}.0/24"

    def real_node_ip(self, index: int) -> str:
        return str(ipaddress.ip_network(self.real_node_subnet(index))[1])

    @property
    def closed(self) -> tuple[str, ...]:
        return self.service_cidr, self.pod_cidr

    @property
    def table(self) -> str:
        return f"{TABLE_PREFIX}s{self.slot}_{self.cluster.replace('-', '_')}_{self.owner}"

    def as_dict(self) -> dict[str, object]:
        return {"slot": self.slot, "table": f"{TABLE_FAMILY} {self.table}",
                "serviceCIDR": self.service_cidr, "podCIDR": self.pod_cidr,
                "nodeIP": self.node_ip}


@dataclass(frozen=True)
class TableName:
    """What a table's name says about the cluster that made it."""

    slot: int
    cluster_token: str  # the cluster name with '-' as '_' (names never hold '_')
    owner: str


def owner_digest(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]


def parse_table(name: str) -> TableName | None:
    match = _TABLE.match(name)
    return TableName(int(match[1]), match[2], match[3]) if match else None


def usable_slots(in_use: tuple[str, ...] = ()) -> list[int]:
    """The slots whose ranges overlap none of `in_use`: this machine's own addresses, routes and
    DNS servers. Closing those would cut the machine off (a resolver at 10.255.255.53 sits in
    slot 11's pod range on some machines)."""
    used = [ipaddress.ip_network(network, strict=False) for network in in_use]
    return [slot for slot in range(SLOTS)
            if not any(ipaddress.ip_network(cidr).overlaps(u)
                       for cidr in NetworkPlan("x", "0" * 8, slot).closed for u in used)]


def free_slot(taken: set[int], in_use: tuple[str, ...] = ()) -> int:
    """The first usable slot (see usable_slots) no other cluster holds."""
    for slot in usable_slots(in_use):
        if slot not in taken:
            return slot
    raise NoFreeSlot(f"no free address slot for a local cluster on this machine ({len(taken)} of {SLOTS} "
                     "held by other clusters, the rest overlap this machine's own routes): stop one "
                     "(`hyperpod-deps cluster down --name NAME`; `nft list tables` shows each "
                     f"{TABLE_PREFIX}* table and the cluster it belongs to)")


def all_slots_cidrs(in_use: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every range a local cluster can hold on a machine using `in_use` (for a guard that
    watches them all: traffic to the machine's own resolver is not a cluster's)."""
    return tuple(cidr for slot in usable_slots(in_use) for cidr in NetworkPlan("x", "0" * 8, slot).closed)


def ruleset(plan: NetworkPlan, routes: tuple[LocalRoute, ...], real_nodes: int = 0) -> str:
    """An nft script that replaces the cluster's table in one transaction: made if missing (so
    the delete cannot fail), deleted, defined afresh. The subnets of `real_nodes` real nodes are
    open from this machine (their bridges are on it) and between pods of one node."""
    table = f"{TABLE_FAMILY} {plan.table}"
    elements = ", ".join(route.element() for route in routes)
    closed = ", ".join(plan.closed)
    real = ", ".join(plan.real_node_subnet(index) for index in range(real_nodes))
    lines = [
        f"table {table} {{}}",
        f"delete table {table}",
        f"table {table} {{",
        f'  comment "hyperpod-deps local cluster {plan.cluster}: its ranges stay on this machine"',
        "  set closed {", "    type ipv4_addr; flags interval", f"    elements = {{ {closed} }}", "  }",
        "  set real_nodes {", "    type ipv4_addr; flags interval",
        *([f"    elements = {{ {real} }}"] if real else []), "  }",
        "  map local_services {",
        "    type ipv4_addr . inet_service : ipv4_addr . inet_service",
        *([f"    elements = {{ {elements} }}"] if routes else []),
        "  }",
        # Services served by pods on real nodes: kept by the service router (servicerouter.py).
        "  map pod_services {", "    type ipv4_addr . inet_service : ipv4_addr . inet_service", "  }",
        *_dnat_chain("to_local_output", "output"),
        *_dnat_chain("to_local_prerouting", "prerouting"),
        *_reject_chain("closed_output", "output", "ip daddr @real_nodes accept"),
        *_reject_chain("closed_forward", "forward", "ip saddr @real_nodes ip daddr @real_nodes accept"),
        "}",
    ]
    return "\n".join(lines) + "\n"


def route_command(verb: str, plan: NetworkPlan, route: LocalRoute) -> str:
    """`add` or `delete` one element of the cluster's map of local services."""
    if verb not in ("add", "delete"):
        raise ValueError(f"verb {verb!r}: add or delete")
    element = route.element() if verb == "add" else f"{route.address} . {route.port}"
    return f"{verb} element {TABLE_FAMILY} {plan.table} local_services {{ {element} }}\n"


def pod_services_script(plan: NetworkPlan, routes: tuple[LocalRoute, ...]) -> str:
    """Replace the whole map of Services served by real pods, in one transaction."""
    lines = [f"flush map {TABLE_FAMILY} {plan.table} pod_services"]
    if routes:
        elements = ", ".join(route.element() for route in routes)
        lines.append(f"add element {TABLE_FAMILY} {plan.table} pod_services {{ {elements} }}")
    return "\n".join(lines) + "\n"


def _dnat_chain(name: str, hook: str) -> list[str]:
    # -100 is dstnat's place; nft accepts the name for prerouting only. A lookup that finds
    # nothing does not match, so the second map is asked only for what the first lacks.
    return [f"  chain {name} {{", f"    type nat hook {hook} priority -100; policy accept;",
            "    ip daddr @closed dnat ip to ip daddr . tcp dport map @local_services",
            "    ip daddr @closed dnat ip to ip daddr . tcp dport map @pod_services", "  }"]


def _reject_chain(name: str, hook: str, open_rule: str) -> list[str]:
    # After DNAT (-100 < filter's 0), so a routed connection is already bound for loopback.
    return [f"  chain {name} {{", f"    type filter hook {hook} priority filter; policy accept;",
            f"    {open_rule}",
            "    ip daddr @closed meta l4proto tcp counter reject with tcp reset",
            "    ip daddr @closed counter reject with icmp type admin-prohibited", "  }"]
