"""Real nodes planned (pure): addresses inside the cluster's ranges, the nft rules that open
them, the configuration files of containerd, CNI and the kubelet, the service router's routes.

They run for real in tests/e2e/test_real_node.py."""
from __future__ import annotations

import ipaddress
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps.localcluster import netplan, realnode, servicerouter
from hyperpod_deps.localcluster.netplan import LocalRoute, NetworkError, NetworkPlan
from hyperpod_deps.localcluster.realnode import RealNode

PLAN = NetworkPlan("e2e-4242", "0123abcd", 3)
NODE = RealNode(PLAN, 1, Path("/cache/clusters/e2e-4242/real/n1"))


def test_real_nodes_take_subnets_of_the_pod_range_clear_of_simulated_pods_and_the_node_address() -> None:
    subnets = [ipaddress.IPv4Network(PLAN.real_node_subnet(i)) for i in range(netplan.MAX_REAL_NODES)]
    pods = ipaddress.IPv4Network(PLAN.pod_cidr)
    assert all(s.subnet_of(pods) for s in subnets)  # no address range beyond the cluster's own
    assert not any(s.overlaps(ipaddress.ip_network(PLAN.kwok_pod_cidr)) for s in subnets)
    assert not any(ipaddress.ip_address(PLAN.node_ip) in s for s in subnets)
    assert len(set(subnets)) == len(subnets)
    assert NODE.address == "10.247.129.1" and NODE.subnet == "10.247.129.0/24"
    with pytest.raises(NetworkError, match="at most 8"):
        PLAN.real_node_subnet(netplan.MAX_REAL_NODES)


def test_the_table_opens_real_subnets_before_refusing_the_rest() -> None:
    script = netplan.ruleset(PLAN, (), real_nodes=2)
    assert "elements = { 10.247.128.0/24, 10.247.129.0/24 }" in script
    output = script[script.index("chain closed_output"):]
    assert output.index("ip daddr @real_nodes accept") < output.index("reject")
    forward = script[script.index("chain closed_forward"):]
    assert forward.index("ip saddr @real_nodes ip daddr @real_nodes accept") < forward.index("reject")
    assert "ip daddr . tcp dport map @pod_services" in script
    without = netplan.ruleset(PLAN, ())
    assert "set real_nodes" in without and "10.247.128.0/24" not in without  # empty, still defined


def test_the_pod_services_map_is_replaced_in_one_transaction() -> None:
    route = LocalRoute("10.99.0.10", 443, 9443, "10.247.128.5")
    script = netplan.pod_services_script(PLAN, (route,))
    assert script.splitlines() == [
        f"flush map ip {PLAN.table} pod_services",
        f"add element ip {PLAN.table} pod_services {{ 10.99.0.10 . 443 : 10.247.128.5 . 9443 }}"]
    assert netplan.pod_services_script(PLAN, ()) == f"flush map ip {PLAN.table} pod_services\n"


def test_containerd_keeps_its_state_in_the_node_folder_and_pulls_only_from_the_cluster_registry() -> None:
    config = tomllib.loads(realnode.containerd_config(NODE))
    assert config["root"].startswith(str(NODE.root)) and config["state"].startswith(str(NODE.root))
    assert config["grpc"]["address"] == str(NODE.socket)
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True  # root here may not lower an OOM score
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is False and runc["Root"].startswith(str(NODE.root))
    assert cri["registry"]["config_path"] == str(NODE.root / "registries")
    hosts = tomllib.loads(realnode.registry_hosts("127.0.0.1:5000"))
    assert hosts["server"] == "http://127.0.0.1:5000"  # not a mirror in front of the real registry
    assert realnode.DEAD_END_PROXY.startswith("http://127.0.0.1:")


def test_every_configuration_file_is_written_in_the_node_folder() -> None:
    files = realnode.render_files(NODE, "127.0.0.1:5000", Path("/pki/ca.crt"), 10248)
    assert all(path.is_relative_to(NODE.root) for path in files)
    for host in realnode.MIRRORED_REGISTRIES:
        assert NODE.root / "registries" / host / "hosts.toml" in files


def test_the_pods_network_has_no_gateway_of_its_own_and_no_masquerade() -> None:
    bridge = realnode.cni_config(NODE)["plugins"][0]  # type: ignore[index]
    assert bridge["bridge"] == NODE.bridge and len(NODE.bridge) <= 15  # an interface name's limit
    assert NODE.bridge.startswith(realnode.BRIDGE_PREFIX)
    assert (bridge["isGateway"], bridge["ipMasq"]) == (False, False)
    ipam = bridge["ipam"]
    assert ipam["routes"] == [{"dst": "0.0.0.0/0", "gw": NODE.address}]
    assert ipam["ranges"][0][0]["rangeStart"] == "10.247.129.2"  # .1 is the bridge: the node
    assert ipam["dataDir"].startswith(str(NODE.root))
    json.dumps(realnode.cni_config(NODE))


def test_the_kubelet_serves_on_the_node_address_and_trusts_only_webhook_authenticated_callers() -> None:
    config = realnode.kubelet_config(NODE, Path("/pki/ca.crt"), 10248)
    assert config["address"] == NODE.address and config["readOnlyPort"] == 0
    assert config["authentication"] == {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                                        "x509": {"clientCAFile": "/pki/ca.crt"}}
    assert config["authorization"] == {"mode": "Webhook"}
    assert config["cgroupRoot"] == NODE.cgroup_root and config["makeIPTablesUtilChains"] is False
    yaml.safe_dump(config)
    argv = realnode.kubelet_command(Path("/bin/kubelet"), NODE, Path("/k.yaml"), Path("/k.kubeconfig"))
    assert f"--node-ip={NODE.address}" in argv and f"--hostname-override={NODE.name}" in argv
    assert "--register-with-taints=hyperpod-deps.local/real-node=true:NoSchedule" in argv
    assert any(a.startswith("--node-labels=") and "node.kubernetes.io/instance-type=ml.g5.8xlarge" in a
               for a in argv)


def test_the_chart_values_place_the_controller_and_operators_on_real_nodes() -> None:
    values = realnode.chart_values()
    for placement in (values["job-auto-restart"]["controller"], values["trainingOperators"],  # type: ignore[index]
                      values["mpi-operator"]):
        assert placement["nodeSelector"] == {realnode.REAL_NODE_LABEL: "true"}  # type: ignore[index]
        assert placement["tolerations"][0]["key"] == realnode.REAL_NODE_LABEL  # type: ignore[index]


def _service(name: str, ip: str, *ports: tuple[str, int]) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name},
            "spec": {"clusterIP": ip, "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports]}}


def _slice(service: str, ports: list[tuple[str, int]], *endpoints: tuple[str, bool]) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "labels": {servicerouter.SERVICE_NAME_LABEL: service}},
            "ports": [{"name": n, "port": p} for n, p in ports],
            "endpoints": [{"addresses": [a], "conditions": {"ready": r}} for a, r in endpoints]}


def test_the_router_sends_each_port_to_a_ready_pod_on_a_real_node_and_nothing_else() -> None:
    real = ["10.247.128.0/24"]
    services: list[dict[str, Any]] = [_service("webhook", "10.99.0.10", ("https", 443), ("metrics", 8080)),
                _service("simulated", "10.99.0.11", ("", 80)),
                {"metadata": {"namespace": "ns", "name": "headless"}, "spec": {"clusterIP": "None"}}]
    slices = [_slice("webhook", [("https", 9443), ("metrics", 8080)],
                     ("10.247.128.9", False), ("10.247.128.7", True), ("10.247.128.5", True)),
              _slice("simulated", [("", 80)], ("10.247.0.3", True))]  # a kwok pod: no network
    routes = servicerouter.routes_for(services, slices, real)
    assert routes == (LocalRoute("10.99.0.10", 443, 9443, "10.247.128.5"),
                      LocalRoute("10.99.0.10", 8080, 8080, "10.247.128.5"))
    assert servicerouter.routes_for(services, [], real) == ()
