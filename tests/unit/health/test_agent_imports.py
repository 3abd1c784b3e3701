"""The node agent runs on every node, so what it imports is resident memory on every node: its
entry point must not load the official Kubernetes client (about 30 MiB with its dependencies;
the agent has its own, kube/lean_client.py), nor the journal reader where that source is off."""
from __future__ import annotations

import subprocess
import sys

# The official client, what only it brings in, and the project's module built on it.
HEAVY = ("kubernetes", "urllib3", "requests", "kubernetes_validate", "jsonschema",
         "hyperpod_deps.kube.client")


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def _heavy(loaded: set[str]) -> set[str]:
    return {module for module in loaded for heavy in HEAVY
            if module == heavy or module.startswith(heavy + ".")}


def test_the_agent_command_loads_no_official_kubernetes_client_and_no_click() -> None:
    # As the container starts it: the program's entry with `health agent` and its options.
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('\\n'.join(sys.modules)))\n"
             "sys.argv = ['hyperpod-deps', 'health', 'agent', '--help']\n"
             "from hyperpod_deps.cli.entry import main\nmain()")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("usage: hyperpod-deps health agent")
    loaded = set(done.stdout.split())
    assert {"hyperpod_deps.cli.health_agent", "hyperpod_deps.kube.lean_client"} <= loaded
    assert not _heavy(loaded)
    # What decision 17 took out of the agent, for its resident memory on every node.
    left_out = ("click", "pydantic", "prometheus_client", "http.client", "email", "wsgiref",
                "importlib.resources", "tempfile")
    assert not {module for module in loaded for out in left_out
                if module == out or module.startswith(out + ".")}


def test_the_command_tree_hands_the_agent_its_arguments() -> None:
    # `hyperpod-deps health agent` reached through click (as CliRunner does): the same parser.
    probe = "from hyperpod_deps.cli.main import cli\ncli(['health', 'agent', '--help'])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: hyperpod-deps health agent")


def test_the_agent_loads_the_journal_reader_only_for_the_journal_source() -> None:
    loaded = _imported_after("import hyperpod_deps.health.runner")
    assert "hyperpod_deps.health.journal" not in loaded
    assert not _heavy(loaded)
