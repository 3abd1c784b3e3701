"""The command line of each control-plane process (pure: paths and ports in, argv out)."""
from __future__ import annotations

from pathlib import Path

from hyperpod_deps.localcluster.layout import Layout, Ports
from hyperpod_deps.localcluster.netplan import KUBELET_PORT, LOOPBACK, NetworkPlan
from hyperpod_deps.toolchain.kubernetes import ControlPlaneBinaries

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

# Start order; `down` stops them in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def etcd(binary: Path, layout: Layout, ports: Ports, plan: NetworkPlan) -> list[str]:
    client, peer = f"http://{LOOPBACK}:{ports.etcd_client}", f"http://{LOOPBACK}:{ports.etcd_peer}"
    return [
        str(binary), "--name", layout.name, "--data-dir", str(layout.etcd_data),
        "--listen-client-urls", client, "--advertise-client-urls", client,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"{layout.name}={peer}", "--initial-cluster-state", "new",
        "--quota-backend-bytes", str(2 * 1024**3), "--log-level", "warn",
    ]


def kube_apiserver(binary: Path, layout: Layout, ports: Ports, plan: NetworkPlan) -> list[str]:
    pki = layout.pki
    return [
        str(binary),
        f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
        f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}",
        f"--secure-port={ports.apiserver}",
        f"--tls-cert-file={pki / 'kube-apiserver.crt'}",
        f"--tls-private-key-file={pki / 'kube-apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--authorization-mode=Node,RBAC",
        f"--service-cluster-ip-range={plan.service_cidr}",
        # Nodes are called at their InternalIP only: a Hostname would be looked up in DNS,
        # which is a query off this machine.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-client-certificate={pki / 'kube-apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'kube-apiserver-kubelet-client.key'}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki / 'service-account.pub'}",
        f"--service-account-signing-key-file={pki / 'service-account.key'}",
        # A loopback address may not be published in the `kubernetes` Service's endpoints,
        # and nothing in a simulated cluster could reach it there anyway.
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--profiling=false",
        f"--cert-dir={layout.run / 'kube-apiserver'}",
    ]


def kube_controller_manager(binary: Path, layout: Layout, ports: Ports, plan: NetworkPlan) -> list[str]:
    pki, kubeconfig = layout.pki, layout.component_kubeconfig("kube-controller-manager")
    return [
        str(binary), *_delegated(kubeconfig, ports.controller_manager, layout, "kube-controller-manager"),
        f"--service-account-private-key-file={pki / 'service-account.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={plan.service_cidr}",
        f"--cluster-name={layout.name}",
        "--allocate-node-cidrs=false",
    ]


def kube_scheduler(binary: Path, layout: Layout, ports: Ports, plan: NetworkPlan) -> list[str]:
    kubeconfig = layout.component_kubeconfig("kube-scheduler")
    return [str(binary), *_delegated(kubeconfig, ports.scheduler, layout, "kube-scheduler")]


def kwok(binary: Path, layout: Layout, ports: Ports, plan: NetworkPlan) -> list[str]:
    return [
        str(binary),
        f"--kubeconfig={layout.component_kubeconfig('kwok')}",
        f"--config={layout.kwok_config}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={plan.kwok_pod_cidr}",
        # Every simulated node advertises this address and port; the cluster's nftables table
        # sends them to kwok's own server on loopback (logs, exec, port-forward of fake pods).
        f"--node-ip={plan.node_ip}", f"--node-port={KUBELET_PORT}",
        "--node-lease-duration-seconds=40",
        f"--server-address={LOOPBACK}:{ports.kwok}",
    ]


def _delegated(kubeconfig: Path, port: int, layout: Layout, component: str) -> list[str]:
    """A component that serves /healthz on loopback and asks the API server who may call it."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}", f"--secure-port={port}",
        f"--cert-dir={layout.run / component}",
        "--leader-elect=false",
    ]


def command_line(component: str, binaries: ControlPlaneBinaries, layout: Layout, ports: Ports,
                 plan: NetworkPlan) -> list[str]:
    builders = {
        "etcd": (etcd, binaries.etcd),
        "kube-apiserver": (kube_apiserver, binaries.kube_apiserver),
        "kube-controller-manager": (kube_controller_manager, binaries.kube_controller_manager),
        "kube-scheduler": (kube_scheduler, binaries.kube_scheduler),
        "kwok": (kwok, binaries.kwok),
    }
    build, binary = builders[component]
    return build(binary, layout, ports, plan)


def health_url(component: str, ports: Ports) -> str | None:
    """Where the component says it is ready (None: only the process is checked)."""
    return {
        "etcd": f"http://{LOOPBACK}:{ports.etcd_client}/health",
        "kube-apiserver": f"https://{LOOPBACK}:{ports.apiserver}/readyz",
        "kube-controller-manager": f"https://{LOOPBACK}:{ports.controller_manager}/healthz",
        "kube-scheduler": f"https://{LOOPBACK}:{ports.scheduler}/healthz",
        "kwok": f"http://{LOOPBACK}:{ports.kwok}/healthz",
    }.get(component)
