"""Entry point of the hyperpod-deps command.

Each command's module is imported only when that command runs: the cluster commands pull in
the Kubernetes client and the local control plane (half a second of imports on two cores),
which `--help`, `render` or `lint` never use. The group's listing is therefore written from
the summaries below, not from the loaded commands; tests/cli/test_lazy_commands.py holds each
summary to its command's own help, and the light commands to the modules they may import.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import click

from hyperpod_deps import __version__


@dataclass(frozen=True)
class LazyCommand:
    module: str  # under hyperpod_deps.cli
    attribute: str
    summary: str  # the first paragraph of the command's help, as `--help` lists it


COMMANDS: dict[str, LazyCommand] = {
    "cluster": LazyCommand("cluster", "cluster_group",
                           "Run a local Kubernetes control plane with simulated HyperPod nodes."),
    "demo": LazyCommand("demo", "demo_command",
                        "Start a local cluster with simulated HyperPod nodes (or reuse it), install the "
                        "chart with `helm install dependencies helm_chart/HyperPodHelmChart --namespace "
                        "kube-system`, wait until every component is ready, and show which component "
                        "runs on which node."),
    "health": LazyCommand("health", "health_group",
                          "The health monitoring agent: check its rules against logs."),
    "images": LazyCommand("images", "images_command",
                          "List every image the chart would pull with the given values, one per line."),
    "install": LazyCommand("install", "install_command",
                           "Preflight, then `helm install <release> <chart> --namespace <ns>` with the "
                           "same values."),
    "jobs": LazyCommand("jobs", "jobs_group", "Training jobs and their auto-restart after node faults."),
    "lint": LazyCommand("lint", "lint_command",
                        "Lint the chart with the given values: helm lint --strict, the values schemas, "
                        "and the project's checks (RBAC verbs and scope, labels, tolerations, requests, "
                        "security contexts)."),
    "plan": LazyCommand("plan", "plan_command",
                        "Show, per component: enabled or not, its namespaces, the objects it creates by "
                        "kind, the instance types each DaemonSet lands on, its images, and what it needs "
                        "on the cluster that the chart does not install (with the command that installs "
                        "it)."),
    "preflight": LazyCommand("preflight", "preflight_command",
                             "Check the cluster before installing the chart with these values."),
    "render": LazyCommand("render", "render_command",
                          "Print the manifests the chart renders with the given values."),
    "status": LazyCommand("install", "status_command",
                          "`helm status`, then each Deployment (available replicas) and DaemonSet (ready "
                          "pods out of desired) of the release. Exits 0 when every one is ready, 1 when "
                          "not."),
    "upgrade": LazyCommand("install", "upgrade_command",
                           "Preflight, then `helm upgrade <release> <chart> --namespace <ns>` with the "
                           "same values."),
}


def load(name: str) -> click.Command:
    """The command itself (its module imported now)."""
    entry = COMMANDS[name]
    command: click.Command = getattr(importlib.import_module(f"hyperpod_deps.cli.{entry.module}"),
                                     entry.attribute)
    return command


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        # A bare Command shortens a summary exactly as the loaded command would its own help.
        rows = [(name, click.Command(name, help=COMMANDS[name].summary).get_short_help_str(limit))
                for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="hyperpod-deps")
def cli() -> None:
    """Install, check and run the HyperPod dependencies on a Kubernetes cluster."""


def main() -> None:
    cli()
