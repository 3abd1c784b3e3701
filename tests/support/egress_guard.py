"""Counts the packets to any local cluster's address ranges that leave this machine.

An nftables table of the test session's own, separate from the clusters' tables it watches:
one counter in the postrouting hook (the last a packet passes, from this machine's processes
and from containers alike) for packets to those ranges on any interface but loopback and the
real nodes' bridges (both on this machine: a real pod is reached through its node's bridge). The
clusters' rules refuse such packets before they get there, so the count stays 0 unless a rule
is missing or wrong.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from hyperpod_deps.localcluster.netplan import all_slots_cidrs
from hyperpod_deps.localcluster.netrules import machine_networks
from hyperpod_deps.localcluster.realnode import BRIDGE_PREFIX


@dataclass(frozen=True)
class EgressGuard:
    table: str

    @classmethod
    def install(cls) -> EgressGuard:
        guard = cls(f"hyperpod_deps_egress_guard_{os.getpid()}")
        # Only slots a cluster can take here: the machine's resolver may sit in another one.
        ranges = ", ".join(all_slots_cidrs(machine_networks()))
        _nft(f"table ip {guard.table} {{}}\ndelete table ip {guard.table}\n"
             f"table ip {guard.table} {{\n"
             "  chain leaving {\n"
             "    type filter hook postrouting priority 300; policy accept;\n"
             f'    oifname != "lo" oifname != "{BRIDGE_PREFIX}*" ip daddr {{ {ranges} }} counter\n'
             "  }\n}\n")
        return guard

    def packets_left(self) -> int:
        listed = subprocess.run(["nft", "-j", "list", "table", "ip", self.table],
                                capture_output=True, text=True, check=True)
        return sum(int(expr["counter"]["packets"])
                   for item in json.loads(listed.stdout)["nftables"] if "rule" in item
                   for expr in item["rule"]["expr"] if "counter" in expr)

    def remove(self) -> None:
        _nft(f"delete table ip {self.table}\n")


def _nft(script: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True, capture_output=True)
