"""A local cluster's address plan and the nft script of its table (pure: no rule is installed).

The rules themselves are exercised against the kernel by tests/e2e/test_network.py."""
from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from hyperpod_deps.localcluster import netplan, netrules
from hyperpod_deps.localcluster.netplan import LocalRoute, NetworkPlan, NoFreeSlot

PLAN = NetworkPlan("e2e-4242", "0123abcd", 3)


def test_each_slot_has_ranges_of_its_own() -> None:
    ranges = [ipaddress.IPv4Network(cidr) for cidr in netplan.all_slots_cidrs()]
    assert len(ranges) == 2 * netplan.SLOTS
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1:])
    assert all(r.subnet_of(ipaddress.IPv4Network("10.0.0.0/8")) for r in ranges)  # private space only


def test_slot_zero_keeps_the_conventional_ranges() -> None:
    plan = NetworkPlan("hyperpod-local", "0123abcd", 0)
    assert (plan.service_cidr, plan.pod_cidr) == ("10.96.0.0/16", "10.244.0.0/16")
    assert plan.kubernetes_service_ip == "10.96.0.1"


def test_the_node_address_is_closed_and_clear_of_simulated_pods() -> None:
    node = ipaddress.ip_address(PLAN.node_ip)
    assert node in ipaddress.ip_network(PLAN.pod_cidr)
    assert node not in ipaddress.ip_network(PLAN.kwok_pod_cidr)
    assert ipaddress.ip_address(PLAN.kubernetes_service_ip) in ipaddress.ip_network(PLAN.service_cidr)


def test_the_table_name_round_trips() -> None:
    parsed = netplan.parse_table(PLAN.table)
    assert parsed is not None
    assert (parsed.slot, parsed.cluster_token, parsed.owner) == (3, "e2e_4242", "0123abcd")
    for foreign in ("filter", "hyperpod_deps_", "hyperpod_deps_sx_a_0123abcd", "hyperpod_deps_s1_a_xyz"):
        assert netplan.parse_table(foreign) is None


def test_the_owner_tells_two_state_folders_apart(tmp_path: Path) -> None:
    first, second = netplan.owner_digest(tmp_path / "a"), netplan.owner_digest(tmp_path / "b")
    assert first != second and len(first) == 8
    assert netplan.owner_digest(tmp_path / "a") == first


def test_the_first_free_slot_is_taken() -> None:
    assert netplan.free_slot(set()) == 0
    assert netplan.free_slot({0, 1, 3}) == 2


def test_a_slot_overlapping_this_machines_networks_is_skipped() -> None:
    # A machine on 10.96.5.0/24 (slot 0's service range) and with a route to 10.245.0.0/16.
    assert netplan.free_slot(set(), ("10.96.5.7/24", "10.245.0.0/16", "127.0.0.0/8")) == 2


def test_no_free_slot_says_what_to_do() -> None:
    with pytest.raises(NoFreeSlot, match="cluster down --name"):
        netplan.free_slot(set(range(netplan.SLOTS)))


def test_the_ruleset_replaces_the_table_in_one_transaction() -> None:
    routes = (LocalRoute("10.99.0.1", 443, 40001), LocalRoute("10.247.255.254", 10250, 40002))
    script = netplan.ruleset(PLAN, routes)
    lines = script.splitlines()
    table = f"ip {PLAN.table}"
    assert lines[:3] == [f"table {table} {{}}", f"delete table {table}", f"table {table} {{"]
    assert "elements = { 10.99.0.0/16, 10.247.0.0/16 }" in script
    assert ("elements = { 10.99.0.1 . 443 : 127.0.0.1 . 40001, "
            "10.247.255.254 . 10250 : 127.0.0.1 . 40002 }") in script


def test_every_hook_a_packet_can_leave_by_is_covered() -> None:
    script = netplan.ruleset(PLAN, ())
    hooks = [line.split("hook ")[1].split()[0] for line in script.splitlines() if " hook " in line]
    assert sorted(hooks) == ["forward", "output", "output", "prerouting"]
    # Routes are rewritten (priority dstnat) before anything is refused (priority filter).
    assert script.count("priority -100") == 2 and script.count("priority filter") == 2
    assert "reject with tcp reset" in script and "reject with icmp type admin-prohibited" in script
    assert "elements" not in script.split("map local_services")[1].split("}")[0]  # an empty map


def test_route_commands_name_the_table_and_element() -> None:
    route = LocalRoute("10.99.3.4", 443, 41000)
    assert netplan.route_command("add", PLAN, route) == (
        f"add element ip {PLAN.table} local_services {{ 10.99.3.4 . 443 : 127.0.0.1 . 41000 }}\n")
    assert netplan.route_command("delete", PLAN, route) == (
        f"delete element ip {PLAN.table} local_services {{ 10.99.3.4 . 443 }}\n")
    with pytest.raises(ValueError, match="add or delete"):
        netplan.route_command("flush", PLAN, route)


def test_a_slot_holding_the_machines_resolver_is_never_used_nor_watched() -> None:
    """Seen on a machine whose DNS server is 10.255.255.53, in slot 11's pod range: a cluster
    there would refuse every DNS query, and the e2e guard counted them as leaks."""
    in_use = ("10.255.255.53/32", "127.0.0.0/8")
    assert netplan.SLOTS - 1 not in netplan.usable_slots(in_use)
    assert netplan.free_slot(set(range(netplan.SLOTS - 1)) - {4}, in_use) == 4
    with pytest.raises(NoFreeSlot):
        netplan.free_slot(set(range(netplan.SLOTS - 1)), in_use)
    watched = [ipaddress.ip_network(cidr) for cidr in netplan.all_slots_cidrs(in_use)]
    assert not any(ipaddress.ip_address("10.255.255.53") in r for r in watched)
    assert len(watched) == 2 * (netplan.SLOTS - 1)


def test_nameservers_are_read_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\nsearch example.internal\nnameserver 10.255.255.53\nnameserver fd00::53\n"
                    "nameserver  192.0.2.53 \noptions ndots:5\nnameserver not-an-address\n")
    assert netrules.nameservers(conf) == ["10.255.255.53", "192.0.2.53"]
    assert netrules.nameservers(tmp_path / "absent") == []
