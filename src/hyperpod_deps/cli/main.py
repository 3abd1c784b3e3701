"""Entry point of the hyperpod-deps command."""
from __future__ import annotations

import click

from hyperpod_deps import __version__
from hyperpod_deps.cli.cluster import cluster_group
from hyperpod_deps.cli.demo import demo_command
from hyperpod_deps.cli.health import health_group
from hyperpod_deps.cli.health_agent import agent_command
from hyperpod_deps.cli.images import images_command
from hyperpod_deps.cli.install import install_command, status_command, upgrade_command
from hyperpod_deps.cli.lint import lint_command
from hyperpod_deps.cli.plan import plan_command
from hyperpod_deps.cli.preflight import preflight_command
from hyperpod_deps.cli.render import render_command


@click.group()
@click.version_option(__version__, prog_name="hyperpod-deps")
def cli() -> None:
    """Install, check and run the HyperPod dependencies on a Kubernetes cluster."""


health_group.add_command(agent_command)
for command in (lint_command, render_command, plan_command, images_command, preflight_command,
                install_command, upgrade_command, status_command, cluster_group, demo_command,
                health_group):
    cli.add_command(command)


def main() -> None:
    cli()
