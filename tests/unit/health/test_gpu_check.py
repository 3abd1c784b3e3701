"""hack/gpu/nvml_check.py, the prepared GPU check: what can be checked without a GPU."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from hyperpod_deps.core.instance_types import catalogue
from hyperpod_deps.health.gpu_snapshot import GpuSnapshot, GpuState

SCRIPT = Path(__file__).resolve().parents[3] / "hack/gpu/nvml_check.py"


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nvml_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stdlib_catalogue_reader_agrees_with_the_typed_one(check: ModuleType) -> None:
    for name, known in catalogue().items():
        expected = known.devices if known.family == "nvidia" else None
        assert check.expected_from_instance_type(name) == expected, name
    assert check.expected_from_instance_type("ml.nothing") is None


def healthy(count: int) -> GpuSnapshot:
    return GpuSnapshot(count, tuple(GpuState(i, f"00000000:{i:02x}:00.0", 0, 0, None, None, False, False, 0,
                                             1980, 1980) for i in range(count)))


@pytest.mark.parametrize("basic", [False, True])
def test_a_healthy_machine_is_ok_in_both_modes(check: ModuleType, basic: bool) -> None:
    summary = check.summarize({"pynvml": healthy(8), "ctypes": healthy(8)}, {}, 8, 8, basic)
    assert summary["ok"] and summary["backends_agree"]
    assert summary["backends"]["pynvml"]["mode"] == ("basic" if basic else "full")


@pytest.mark.parametrize("basic", [False, True])
def test_a_fault_or_a_count_mismatch_is_not_ok(check: ModuleType, basic: bool) -> None:
    missing = check.summarize({"pynvml": healthy(7)}, {}, 8, 7, basic)
    assert not missing["ok"]
    assert missing["backends"]["pynvml"]["faults"][0]["message"] == "GPU count 7, expected 8"
    remap = GpuSnapshot(1, (GpuState(0, "x", row_remap_failure=True),))
    assert not check.summarize({"ctypes": remap}, {}, 1, 1, basic)["ok"]


def test_backends_that_disagree_are_not_ok(check: ModuleType) -> None:
    assert not check.summarize({"pynvml": healthy(8), "ctypes": healthy(7)}, {}, None, None, False)["ok"]
    assert not check.summarize({"pynvml": healthy(8)}, {}, None, 7, False)["ok"]  # nvidia-smi saw 7


def test_without_a_driver_it_says_so_and_exits_2(check: ModuleType,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main(["--expect-gpus", "8"]) == 2
    summary = json.loads(capsys.readouterr().out)
    assert summary["backends"] == {} and not summary["ok"]
    assert set(summary["unavailable"]) == {"pynvml", "ctypes"}


def test_on_a_bare_python_without_site_packages_it_runs_in_basic_mode() -> None:
    # -S: no site-packages, so no PyYAML, msgspec or nvidia-ml-py: the machine the check is for.
    done = subprocess.run([sys.executable, "-S", str(SCRIPT), "--instance-type", "ml.p5.48xlarge"],
                          capture_output=True, text=True, timeout=60, check=False)
    summary = json.loads(done.stdout)
    assert done.returncode == 2 and summary["expected_gpus"] == 8
    assert summary["unavailable"]["pynvml"].startswith("ModuleNotFoundError")
    code = (f"import runpy; m = runpy.run_path({str(SCRIPT)!r}, run_name='check');"
            "from hyperpod_deps.health.gpu_snapshot import GpuSnapshot;"
            "print(m['evaluate'](GpuSnapshot(1, ()), 2, False))")
    basic = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                           check=False)
    assert basic.returncode == 0, basic.stderr
    assert basic.stdout.startswith("('basic', [{'rule': '-', 'action': 'fault'")
    assert "'message': 'GPU count 1, expected 2'" in basic.stdout
