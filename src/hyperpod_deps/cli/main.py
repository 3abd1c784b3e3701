"""Entry point of the hyperpod-deps command."""
from __future__ import annotations

import click

from hyperpod_deps import __version__


@click.group()
@click.version_option(__version__, prog_name="hyperpod-deps")
def cli() -> None:
    """Install, check and run the HyperPod dependencies on a Kubernetes cluster."""


def main() -> None:
    cli()
