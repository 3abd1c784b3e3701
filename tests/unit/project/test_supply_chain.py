"""What CI and the agents image install: bounded, and the same versions where they overlap."""
from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
LOCK = ROOT / "image" / "requirements.lock"


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def locked() -> dict[str, Version]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = Version(match[2])
    return pins


def test_every_runtime_dependency_has_an_upper_bound() -> None:
    unbounded = [str(r) for r in runtime_requirements()
                 if not any(spec.operator in ("<", "<=", "~=", "==") for spec in r.specifier)]
    assert unbounded == []


def test_the_image_lock_satisfies_the_declared_ranges() -> None:
    pins = locked()
    for requirement in runtime_requirements():
        name = requirement.name.lower().replace("_", "-")
        if requirement.marker is not None and not requirement.marker.evaluate({"python_version": "3.11"}):
            continue
        assert name in pins, f"{name} is a runtime dependency the image does not lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"image/requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}")


def test_ci_installs_with_the_image_lock_as_constraints() -> None:
    """`make setup` (CI's first step) builds the constraints from the lock and installs with them."""
    plan = subprocess.run(["make", "-n", "-B", ".venv/bin/.installed"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert "image/requirements.lock > .venv/constraints.txt" in plan
    install = [line for line in plan.splitlines() if "pip install" in line and "-e" in line]
    assert install and all("--constraint .venv/constraints.txt" in line for line in install)
