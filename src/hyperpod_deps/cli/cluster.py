"""hyperpod-deps cluster up | down | status: a local Kubernetes control plane with simulated
HyperPod nodes, for trying the chart and for the end-to-end tests."""
from __future__ import annotations

import json
from pathlib import Path

import click

from hyperpod_deps.cli.exit_codes import ExitCode, fail
from hyperpod_deps.localcluster import cluster as local
from hyperpod_deps.localcluster import netrules, nodespec
from hyperpod_deps.localcluster.layout import DEFAULT_NAME, ClusterNameError
from hyperpod_deps.localcluster.netplan import MAX_REAL_NODES, NetworkError
from hyperpod_deps.localcluster.pki import PkiError
from hyperpod_deps.localcluster.processes import ComponentFailed, PortTaken
from hyperpod_deps.localcluster.realnodes import RealNodeError
from hyperpod_deps.localcluster.registry import RegistryUnavailable
from hyperpod_deps.toolchain.gobuild import GoBuildFailed, GoUnavailable
from hyperpod_deps.toolchain.helm import ToolUnavailable
from hyperpod_deps.toolchain.image_push import PushError

name_option = click.option("--name", default=DEFAULT_NAME, show_default=True,
                           help="Cluster name; its state lives in the cache under clusters/<name>/.")


@click.group("cluster")
def cluster_group() -> None:
    """Run a local Kubernetes control plane with simulated HyperPod nodes."""


@cluster_group.command("up")
@name_option
@click.option("--kubeconfig", "kubeconfig_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the admin kubeconfig [default: clusters/<name>/kubeconfig in the cache].")
@click.option("--nodes", "nodes_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Node spec YAML (region, instanceGroups: [{instanceType, count, name, zone}]).")
@click.option("--node", "node_flags", multiple=True, metavar="TYPE[=COUNT]",
              help="Simulated nodes of an instance type, e.g. --node ml.p5.48xlarge=2 (repeatable).")
@click.option("--port", "apiserver_port", type=click.IntRange(1, 65535),
              help="kube-apiserver port on 127.0.0.1 [default: a free one].")
@click.option("--allow-egress", is_flag=True,
              help="Run without the nftables rules that keep the cluster's Service, pod and node "
                   "addresses on this machine (for a user who cannot be root): calls to them then "
                   "leave by the default route.")
@click.option("--no-registry", is_flag=True,
              help="Run without the cluster's local OCI registry (Debian's docker-registry on 127.0.0.1).")
@click.option("--real-nodes", type=click.IntRange(0, MAX_REAL_NODES), default=0, show_default=True,
              help="Real kubelet nodes (containerd, runc, real containers) beside the simulated ones.")
def up_command(name: str, kubeconfig_path: Path | None, nodes_file: Path | None,
               node_flags: tuple[str, ...], apiserver_port: int | None, allow_egress: bool,
               no_registry: bool, real_nodes: int) -> None:
    """Build the control plane on first use (many minutes), start it, add the nodes.

    Without --nodes or --node: 2x ml.p5.48xlarge, 1x ml.g5.8xlarge, 1x ml.trn1.32xlarge and
    1x ml.m5.2xlarge. Prints the kubeconfig path and an export line for it.

    Needs root: it installs one nftables table (docs/local-cluster.md) so that no call to the
    cluster's addresses leaves this machine; `cluster down` deletes it.

    Starts the cluster's OCI registry on 127.0.0.1 (an air-gapped site's registry; push to it
    with `hyperpod-deps images push`), unless --no-registry; its storage outlives `down`.

    With --real-nodes N, N real kubelet nodes join (Debian's containerd, runc, CNI plugins and
    catatonit; docs/local-cluster.md): they pull the chart's images from the cluster's registry,
    which serves the images this project builds (`make image` first for the agents image).
    """
    try:
        spec = _spec(nodes_file, node_flags)
        result = local.up(name, spec, kubeconfig_path, apiserver_port, allow_egress=allow_egress,
                          with_registry=not no_registry, real_nodes=real_nodes)
    except (nodespec.NodeSpecError, ClusterNameError) as error:
        raise click.UsageError(str(error)) from error
    except (GoUnavailable, GoBuildFailed, ToolUnavailable, PkiError, RegistryUnavailable,
            PushError) as error:
        fail(str(error), ExitCode.TOOL_UNAVAILABLE)
    except (PortTaken, ComponentFailed, local.ClusterError, NetworkError, RealNodeError) as error:
        fail(str(error), ExitCode.CLUSTER_FAILED)
    click.echo(f"cluster {result.name} is running; API server {result.server}")
    click.echo(_network_line(result.network))
    if result.registry:
        click.echo(f"registry: {result.registry} (plain HTTP, loopback only)")
    if result.real_nodes:
        click.echo(f"real nodes: {', '.join(result.real_nodes)}")
    click.echo(f"kubeconfig: {result.kubeconfig}")
    click.echo(f"export KUBECONFIG={result.kubeconfig}")


@cluster_group.command("down")
@name_option
@click.option("--purge", is_flag=True, help="Also delete its certificates, logs and default kubeconfig.")
def down_command(name: str, purge: bool) -> None:
    """Stop every process of the cluster and delete its data (certificates and logs are kept)."""
    result = local.down(name, purge=purge)
    if not result.stopped:
        fail(f"some processes of {name} are still running: {_running(result)}", ExitCode.CLUSTER_FAILED)
    click.echo(f"cluster {name} is stopped")


@cluster_group.command("status")
@name_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_command(name: str, as_json: bool) -> None:
    """What runs, with pids, ports and logs. Exits 1 unless every component runs."""
    result = local.status(name)
    if as_json:
        click.echo(json.dumps(_as_dict(result), indent=2))
    else:
        state = "running" if result.running else "stopped" if result.stopped else "partly running"
        click.echo(f"cluster {name}: {state}" + (f", API server {result.server}" if result.server else ""))
        if result.kubeconfig and not result.stopped:
            click.echo(f"kubeconfig: {result.kubeconfig}")
            click.echo(_network_line(result.network))
            click.echo(f"registry: {result.registry or 'not running'}")
            if result.real_nodes:
                click.echo(f"real nodes: {', '.join(result.real_nodes)}")
            if result.network.get("isolated") and netrules.find(result.state_dir) is None:
                click.echo(f"warning: its nftables table {result.network.get('table')} is missing: calls to "
                           "its addresses may leave this machine; `cluster down`, then `cluster up` again")
        for c in result.components:
            where = f"127.0.0.1:{c.port}" if c.port else "-"
            pid = f"pid {c.pid}" if c.pid else "not running"
            click.echo(f"  {c.name:<24} {pid:<12} {where:<16} {c.log}")
    if not result.running:
        raise SystemExit(ExitCode.CHECKS_FAILED)


def _spec(nodes_file: Path | None, node_flags: tuple[str, ...]) -> nodespec.NodeSpec:
    if nodes_file and node_flags:
        raise nodespec.NodeSpecError("give either --nodes FILE or --node flags, not both")
    if nodes_file:
        return nodespec.parse(nodes_file.read_text(), str(nodes_file))
    if node_flags:
        return nodespec.from_pairs(nodespec.parse_flag(flag) for flag in node_flags)
    return nodespec.default_spec()


def _network_line(network: dict[str, object]) -> str:
    if not network:
        return "network: not recorded"
    where = (f"services {network['serviceCIDR']}, pods {network['podCIDR']}, nodes at {network['nodeIP']}")
    if network.get("isolated"):
        return f"network: {where}; kept on this machine by nftables table '{network['table']}'"
    return f"network: {where}; NOT isolated (--allow-egress): calls to them may leave this machine"


def _running(result: local.ClusterStatus) -> str:
    return ", ".join(f"{c.name} (pid {c.pid})" for c in result.components if c.pid)


def _as_dict(result: local.ClusterStatus) -> dict[str, object]:
    return {
        "name": result.name, "running": result.running, "server": result.server,
        "kubeconfig": str(result.kubeconfig) if result.kubeconfig else None,
        "stateDir": str(result.state_dir), "versions": result.versions, "network": result.network,
        "registry": result.registry, "realNodes": list(result.real_nodes),
        "components": [{"name": c.name, "pid": c.pid, "port": c.port, "log": str(c.log)}
                       for c in result.components],
    }

