"""The CLI loads a command's module only when it runs: `--help` lists every command from the
summaries in cli/main.py, which must say what the commands themselves say, and the light
commands never import the Kubernetes client or the local control plane."""
from __future__ import annotations

import inspect
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from hyperpod_deps.cli import main

# The Kubernetes client and what starts a cluster; localcluster.layout (paths only) is light.
HEAVY = ("kubernetes", "hyperpod_deps.localcluster.cluster", "hyperpod_deps.kube.client")
LIGHT_COMMANDS = ("render", "lint", "images", "plan")


@pytest.mark.parametrize("name", sorted(main.COMMANDS))
def test_each_summary_is_the_first_paragraph_of_the_commands_help(name: str) -> None:
    command = main.load(name)
    first = inspect.cleandoc(command.help or "").split("\n\n")[0]
    assert main.COMMANDS[name].summary == " ".join(first.split())
    assert command.name == name


def test_help_lists_what_an_eagerly_loaded_group_would() -> None:
    eager = click.Group("hyperpod-deps", help=main.cli.help)
    for name in main.COMMANDS:
        eager.add_command(main.load(name), name)
    expected = CliRunner().invoke(eager, ["--help"]).output.split("Commands:")[1]
    shown = CliRunner().invoke(main.cli, ["--help"])
    assert shown.exit_code == 0
    assert shown.output.split("Commands:")[1] == expected


def test_health_group_carries_the_agent_subcommand() -> None:
    shown = CliRunner().invoke(main.cli, ["health", "--help"])
    assert shown.exit_code == 0
    assert "agent" in shown.output and "classify" in shown.output


def test_an_unknown_command_is_refused() -> None:
    shown = CliRunner().invoke(main.cli, ["no-such-command"])
    assert shown.exit_code == 2
    assert "No such command" in shown.output


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_help_imports_no_command_module() -> None:
    loaded = _imported_after("from hyperpod_deps.cli.main import cli\n"
                             "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass")
    assert not {m for m in loaded if m.startswith("hyperpod_deps.cli.") and m != "hyperpod_deps.cli.main"}
    assert not {m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")}


@pytest.mark.parametrize("name", LIGHT_COMMANDS)
def test_light_commands_import_neither_the_kubernetes_client_nor_the_local_cluster(name: str) -> None:
    loaded = _imported_after(f"from hyperpod_deps.cli.main import load\nload({name!r})")
    assert not {m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")}
