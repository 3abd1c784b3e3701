"""Rendering the chart with the real helm binary."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hyperpod_deps.core.manifest import Manifest

DEFAULT_RELEASE = "dependencies"
DEFAULT_NAMESPACE = "kube-system"


class RenderError(RuntimeError):
    """helm refused to render; the message is helm's own (a schema error or a chart `fail`)."""


@dataclass(frozen=True)
class RenderRequest:
    chart: Path
    release: str = DEFAULT_RELEASE
    namespace: str = DEFAULT_NAMESPACE
    values_files: tuple[Path, ...] = ()
    set_values: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = field(default=())
    # helm's --set-string: the value stays a string (an id of digits such as targetId=123).
    set_string_values: tuple[str, ...] = ()

    def value_args(self) -> list[str]:
        """--values, --set and --set-string as helm takes them (helm applies them in that order)."""
        args: list[str] = []
        for values_file in self.values_files:
            args += ["--values", str(values_file)]
        for assignment in self.set_values:
            args += ["--set", assignment]
        for assignment in self.set_string_values:
            args += ["--set-string", assignment]
        return args

    def helm_args(self) -> list[str]:
        args = ["template", self.release, str(self.chart), "--namespace", self.namespace]
        return args + self.value_args() + list(self.extra_args)


def render_text(helm: Path, request: RenderRequest) -> str:
    """The manifests exactly as helm prints them."""
    result = subprocess.run(
        [str(helm), *request.helm_args()], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RenderError(_helm_error(result.stderr))
    return result.stdout


def render(helm: Path, request: RenderRequest) -> list[Manifest]:
    """The rendered objects, in helm's order, empty documents dropped."""
    return parse_manifests(render_text(helm, request))


# The CRDs make a default render about 1 MB of YAML: libyaml's parser reads it
# several times faster than the pure-Python one, when PyYAML was built with it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_manifests(text: str) -> list[Manifest]:
    return [doc for doc in yaml.load_all(text, Loader=_LOADER) if isinstance(doc, dict)]


def _helm_error(stderr: str) -> str:
    # helm logs informational lines before the error; keep the error and its details.
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Error")]
    kept = lines[starts[0]:] if starts else lines
    return "\n".join(kept) or "helm failed with no message"
