"""The control plane's command lines and the build's version pins (no process is started)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.localcluster import commands
from hyperpod_deps.localcluster.layout import ClusterNameError, Layout, Ports, check_name
from hyperpod_deps.localcluster.netplan import NetworkPlan
from hyperpod_deps.toolchain import kubernetes
from hyperpod_deps.toolchain.kubernetes import CONTROL_PLANE, ControlPlaneBinaries, ControlPlaneVersions

PORTS = Ports(etcd_client=2379, etcd_peer=2380, apiserver=6443, controller_manager=10257,
              scheduler=10259, kwok=10247)
BINARIES = ControlPlaneBinaries(*(Path(f"/bin/{n}") for n in (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "stages.yaml")))
PLAN = NetworkPlan("test", "0123abcd", 2)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout("test", tmp_path / "clusters" / "test")


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in argv if arg.startswith("--") and "=" in arg)


def test_apiserver_is_loopback_only_with_rbac(layout: Layout) -> None:
    argv = commands.command_line("kube-apiserver", BINARIES, layout, PORTS, PLAN)
    flags = _flags(argv)
    assert argv[0] == "/bin/kube-apiserver"
    assert flags["bind-address"] == "127.0.0.1"
    assert flags["secure-port"] == "6443"
    assert flags["authorization-mode"] == "Node,RBAC"
    assert flags["etcd-servers"] == "http://127.0.0.1:2379"
    assert flags["service-cluster-ip-range"] == "10.98.0.0/16"  # slot 2's
    assert flags["kubelet-preferred-address-types"] == "InternalIP"  # no DNS lookup of node names
    assert flags["client-ca-file"] == str(layout.pki / "ca.crt")
    assert "enable-admission-plugins" not in flags  # the defaults
    assert "insecure-port" not in flags


def test_etcd_listens_on_loopback_in_the_state_folder(layout: Layout) -> None:
    argv = commands.command_line("etcd", BINARIES, layout, PORTS, PLAN)
    assert argv[argv.index("--data-dir") + 1] == str(layout.etcd_data)
    assert argv[argv.index("--listen-client-urls") + 1] == "http://127.0.0.1:2379"
    assert argv[argv.index("--listen-peer-urls") + 1] == "http://127.0.0.1:2380"


@pytest.mark.parametrize("component", ["kube-controller-manager", "kube-scheduler"])
def test_components_use_their_own_kubeconfig(layout: Layout, component: str) -> None:
    flags = _flags(commands.command_line(component, BINARIES, layout, PORTS, PLAN))
    assert flags["kubeconfig"] == str(layout.component_kubeconfig(component))
    assert flags["bind-address"] == "127.0.0.1"
    assert flags["leader-elect"] == "false"


def test_controller_manager_signs_service_account_tokens(layout: Layout) -> None:
    flags = _flags(commands.command_line("kube-controller-manager", BINARIES, layout, PORTS, PLAN))
    assert flags["service-account-private-key-file"] == str(layout.pki / "service-account.key")
    assert flags["use-service-account-credentials"] == "true"


def test_kwok_manages_only_annotated_nodes(layout: Layout) -> None:
    flags = _flags(commands.command_line("kwok", BINARIES, layout, PORTS, PLAN))
    assert flags["manage-all-nodes"] == "false"
    assert flags["manage-nodes-with-annotation-selector"] == "kwok.x-k8s.io/node=fake"
    assert flags["config"] == str(layout.kwok_config)
    assert flags["server-address"] == "127.0.0.1:10247"
    assert (flags["cidr"], flags["node-ip"]) == ("10.246.0.0/17", "10.246.255.254")
    assert flags["node-port"] == "10250"


def test_the_controller_manager_shares_the_slots_service_range(layout: Layout) -> None:
    flags = _flags(commands.command_line("kube-controller-manager", BINARIES, layout, PORTS, PLAN))
    assert flags["service-cluster-ip-range"] == "10.98.0.0/16"


def test_every_component_has_a_health_url() -> None:
    assert all(commands.health_url(c, PORTS) for c in commands.COMPONENTS)
    assert commands.COMPONENTS[0] == "etcd"


def test_cluster_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERPOD_DEPS_CACHE", str(tmp_path))
    assert Layout.for_cluster("dev").root == tmp_path / "clusters" / "dev"
    for bad in ("", "Dev", "../x", "a" * 41):
        with pytest.raises(ClusterNameError):
            check_name(bad)


def test_versions_are_pinned_in_one_place() -> None:
    assert ControlPlaneVersions(kubernetes="1.35.4", etcd="3.6.5", kwok="0.8.0") == CONTROL_PLANE
    assert CONTROL_PLANE.staging == "0.35.4"


def test_scratch_go_mod_pins_each_staging_module() -> None:
    upstream = ("replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n"
                "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
                "\tgithub.com/foo/bar => github.com/foo/bar v1.0.0\n)\n")
    staging = kubernetes.staging_modules(upstream)
    assert staging == ["k8s.io/api", "k8s.io/client-go"]
    go_mod = kubernetes.kubernetes_go_mod(CONTROL_PLANE, staging)
    assert "require k8s.io/kubernetes v1.35.4" in go_mod
    assert "\tk8s.io/api => k8s.io/api v0.35.4\n" in go_mod
    assert "\tk8s.io/client-go => k8s.io/client-go v0.35.4\n" in go_mod


def test_kubernetes_binaries_carry_their_version() -> None:
    module = kubernetes.kubernetes_module(CONTROL_PLANE, ["k8s.io/api"])
    assert [b.tool for b in module.binaries] == list(kubernetes.KUBE_BINARIES)
    assert all("-X k8s.io/component-base/version.gitVersion=v1.35.4" in b.ldflags for b in module.binaries)
    assert module.directory.name == "kubernetes-v1.35.4"


def test_build_command_is_small_and_static(monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperpod_deps.toolchain import gobuild

    binary = kubernetes.etcd_module(CONTROL_PLANE).binaries[0]
    argv = gobuild.build_command("go", binary, Path("/tmp/etcd"))
    assert argv[:3] == ["go", "build", "-v"]
    assert "-ldflags=-s -w" in argv
    assert argv[-1] == "go.etcd.io/etcd/server/v3"
    env = gobuild.go_environment()
    assert env["CGO_ENABLED"] == "0"
    assert "-trimpath" in env["GOFLAGS"]


def test_missing_go_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperpod_deps.toolchain import gobuild

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(gobuild.GoUnavailable, match="Install Go"):
        gobuild.go_command()
