"""A real kubelet node of a local cluster, planned (pure: a cluster, a slot and an index in;
names, addresses, paths and the configuration files of containerd, CNI and the kubelet out).

Everything a real node needs on the host is named after its cluster and index, so `cluster
down` (or the next `up` after a crash) finds exactly what it made: a bridge `hpd<slot>r<index>`,
a cgroup root, and one folder holding containerd's root, state and socket, the kubelet's root,
the CNI configuration and address store, and the pods' logs. (containerd 1.6 pins the pods'
network namespaces in /run/netns and its shims' sockets in /run/containerd/s whatever its
configuration says: `down` finds this node's there by the namespaces of its pods' processes.)

Its network: the bridge holds the node's address (the first host of its /24 in the upper half
of the cluster's pod range, a local address, so the API server's calls to the kubelet stay on
this machine); pods take the rest of the /24 and reach the API server at the `kubernetes`
Service address through the cluster's DNAT to loopback. Nothing is forwarded or masqueraded.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from hyperpod_deps.core.wire import NODE_HEALTH_LABEL, SCHEDULABLE
from hyperpod_deps.localcluster.netplan import KUBELET_PORT, LOOPBACK, NetworkPlan
from hyperpod_deps.toolchain.static_images import PAUSE

BRIDGE_PREFIX = "hpd"  # every real node's bridge; the e2e egress guard knows it as local
# The registries whose images the chart names: containerd pulls each through the cluster's own
# registry and never from the registry itself (an air-gapped site's mirror, as ECR pull-through).
MIRRORED_REGISTRIES = ("registry.k8s.io", "docker.io", "ghcr.io", "public.ecr.aws", "nvcr.io", "quay.io")
# containerd goes through this proxy for any registry not mirrored: nothing listens on the
# discard port of loopback, so such a pull fails at once instead of leaving the machine.
DEAD_END_PROXY = f"http://{LOOPBACK}:9"
REAL_NODE_LABEL = "hyperpod-deps.local/real-node"
# A real node carries this taint: only pods that tolerate it run there (the health agents, which
# tolerate every taint, and what chart_values places there); the device plugins, which need
# hardware the node lacks, stay on the simulated nodes.
REAL_NODE_TAINT = {"key": REAL_NODE_LABEL, "value": "true", "effect": "NoSchedule"}
# A GPU type, so the chart's NVIDIA health agent DaemonSet selects it (it has no GPU: the agent's
# NVML source finds none, its log sources work as on any node).
INSTANCE_TYPE = "ml.g5.8xlarge"
# Host folders the chart's pods create on a node (hostPath DirectoryOrCreate): the open health
# agent's state (its stateHostPath default) lives under the project's own folder.
CHART_HOST_FOLDERS = (Path("/var/lib/hyperpod-deps"),)
# The sysctls the kubelet sets on start (its kernel defaults); `down` puts the recorded values back.
KUBELET_SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")


@dataclass(frozen=True)
class RealNode:
    plan: NetworkPlan
    index: int
    root: Path  # the node's folder in the cluster's state folder

    @property
    def name(self) -> str:
        return f"{self.plan.cluster}-real-{self.index}"

    @property
    def bridge(self) -> str:
        return f"{BRIDGE_PREFIX}{self.plan.slot}r{self.index}"

    @property
    def subnet(self) -> str:
        return self.plan.real_node_subnet(self.index)

    @property
    def address(self) -> str:
        return self.plan.real_node_ip(self.index)

    @property
    def prefix_length(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def cgroup_root(self) -> str:
        return f"/hyperpod-deps-{self.plan.cluster}-{self.plan.owner}-r{self.index}"

    @property
    def socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def component(self) -> str:
        """The name its processes go by in the cluster's pid and log files."""
        return f"real-{self.index}"


def containerd_config(node: RealNode) -> str:
    """containerd 1.6 (config version 2): its own root, state and socket; the CRI plugin with
    runc under cgroupfs, Debian's CNI plugins, the network namespaces in the node's folder, and
    `restrict_oom_score_adj` (root here may not lower an OOM score, which runc is asked to do)."""
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    return "\n".join([
        "version = 2",
        f'root = "{node.root / "containerd-root"}"',
        f'state = "{node.root / "containerd-state"}"',
        f'[grpc]\n  address = "{node.socket}"',
        f'[ttrpc]\n  address = "{node.socket}.ttrpc"',
        '[debug]\n  level = "warn"',
        "[plugins]",
        f"  {cri}",
        f'    sandbox_image = "{PAUSE.name}"',
        "    restrict_oom_score_adj = true",
        "    disable_apparmor = true",
        f'    stream_server_address = "{LOOPBACK}"',
        f"  {cri[:-1]}.containerd]",
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        f"  {cri[:-1]}.containerd.runtimes.runc]",
        '    runtime_type = "io.containerd.runc.v2"',
        f"  {cri[:-1]}.containerd.runtimes.runc.options]",
        "    SystemdCgroup = false",
        f'    Root = "{node.root / "runc"}"',  # runc's state: /run/containerd/runc otherwise
        f"  {cri[:-1]}.cni]",
        '    bin_dir = "/usr/lib/cni"',
        f'    conf_dir = "{node.root / "cni"}"',
        f"  {cri[:-1]}.registry]",
        f'    config_path = "{node.root / "registries"}"',
        f'  [plugins."io.containerd.internal.v1.opt"]\n    path = "{node.root / "opt"}"',
        "",
    ])


def registry_hosts(registry: str) -> str:
    """hosts.toml for one mirrored registry: the cluster's registry is the server itself (not a
    mirror in front of it), so a missing image is an error here, never a pull from outside."""
    return (f'server = "http://{registry}"\n\n'
            f'[host."http://{registry}"]\n  capabilities = ["pull", "resolve"]\n')


def cni_config(node: RealNode) -> dict[str, object]:
    """A bridge network without a gateway of its own: the bridge's address is the node's, the
    pods' default route points at it, and no rule masquerades or forwards their traffic."""
    network = ipaddress.ip_network(node.subnet)
    return {
        "cniVersion": "0.4.0",
        "name": f"hyperpod-deps-{node.plan.cluster}-r{node.index}",
        "plugins": [{
            "type": "bridge", "bridge": node.bridge, "isGateway": False, "isDefaultGateway": False,
            "ipMasq": False, "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "dataDir": str(node.root / "cni-addresses"),
                "ranges": [[{"subnet": node.subnet, "rangeStart": str(network[2]),
                             "rangeEnd": str(network[-2]), "gateway": node.address}]],
                "routes": [{"dst": "0.0.0.0/0", "gw": node.address}],
            },
        }],
    }


def kubelet_config(node: RealNode, client_ca: Path, healthz_port: int) -> dict[str, object]:
    """The kubelet's settings for this machine: cgroupfs on cgroup v1, swap tolerated, no
    iptables chains of its own, no DNS for pods (nothing in the cluster serves it), a shared
    disk's thresholds, and only webhook-authenticated callers (the API server's client cert)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node.address,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": LOOPBACK,
        "healthzPort": healthz_port,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(client_ca)}},
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": node.cgroup_root,
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        "resolvConf": "",
        "makeIPTablesUtilChains": False,
        "podCIDR": node.subnet,
        "podLogsDir": str(node.pod_logs),
        "volumePluginDir": str(node.root / "volume-plugins"),
        "serializeImagePulls": False,
        "evictionHard": {"nodefs.available": "1%", "imagefs.available": "1%", "memory.available": "100Mi"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
    }


def kubelet_command(binary: Path, node: RealNode, config: Path, kubeconfig: Path) -> list[str]:
    # Registered as HyperPod registers its nodes: healthy (the simulated nodes get the same label).
    labels = {REAL_NODE_LABEL: "true", "node.kubernetes.io/instance-type": INSTANCE_TYPE,
              NODE_HEALTH_LABEL: SCHEDULABLE}
    return [
        str(binary), f"--config={config}", f"--kubeconfig={kubeconfig}",
        f"--hostname-override={node.name}", f"--node-ip={node.address}",
        f"--root-dir={node.kubelet_root}", f"--cert-dir={node.root / 'kubelet-pki'}",
        "--node-labels=" + ",".join(f"{key}={value}" for key, value in sorted(labels.items())),
        "--register-with-taints={key}={value}:{effect}".format(**REAL_NODE_TAINT),
    ]


def chart_values() -> dict[str, object]:
    """Values that run the chart's controller and operators on the real nodes (for a test or
    the demo; a user's cluster has no such nodes)."""
    placement = {"nodeSelector": {REAL_NODE_LABEL: "true"},
                 "tolerations": [{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}]}
    return {"job-auto-restart": {"controller": placement}, "trainingOperators": placement,
            "mpi-operator": placement}


def render_files(node: RealNode, registry: str, client_ca: Path, healthz_port: int) -> dict[Path, str]:
    """Every configuration file of the node, by path."""
    files = {
        node.root / "containerd.toml": containerd_config(node),
        node.root / "cni" / "10-hyperpod-deps.conflist": json.dumps(cni_config(node), indent=2) + "\n",
        node.root / "kubelet.yaml": yaml.safe_dump(kubelet_config(node, client_ca, healthz_port),
                                                   sort_keys=False),
    }
    for host in MIRRORED_REGISTRIES:
        files[node.root / "registries" / host / "hosts.toml"] = registry_hosts(registry)
    return files
