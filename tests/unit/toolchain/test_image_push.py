"""`hyperpod-deps images push`: what it accepts as a registry, when it checks TLS, and the values
it gives back (the push itself runs against a real registry in tests/e2e/test_registry.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.localcluster import registry
from hyperpod_deps.localcluster.layout import Layout
from hyperpod_deps.toolchain.image_push import Pushed, PushError, check_registry, is_loopback, push


@pytest.mark.parametrize("given, cleaned", [
    ("123456789012.dkr.ecr.us-west-2.amazonaws.com", "123456789012.dkr.ecr.us-west-2.amazonaws.com"),
    ("ghcr.io/my-org/", "ghcr.io/my-org"),
    (" 127.0.0.1:5000 ", "127.0.0.1:5000"),
])
def test_registries_are_host_port_and_path(given: str, cleaned: str) -> None:
    assert check_registry(given) == cleaned


@pytest.mark.parametrize("given", ["", "https://ghcr.io", "ghcr.io/x@sha256:00", "my registry"])
def test_anything_else_is_refused_with_an_example(given: str) -> None:
    with pytest.raises(PushError, match="host\\[:port\\]\\[/path\\]"):
        check_registry(given)


@pytest.mark.parametrize("given, loopback", [
    ("127.0.0.1:5000", True), ("localhost:5000/x", True), ("[::1]:5000", True),
    ("10.0.0.5:5000", False), ("ghcr.io", False), ("registry.local", False),
])
def test_only_loopback_registries_skip_tls_by_default(given: str, loopback: bool) -> None:
    assert is_loopback(given) is loopback


def test_the_values_pin_both_of_our_components_to_the_digest() -> None:
    pushed = Pushed("reg.example/hyperpod-deps/agents:0.1.0", "reg.example", "sha256:" + "a" * 64)
    image = {"registry": "reg.example", "digest": "sha256:" + "a" * 64}
    assert pushed.values() == {
        "health-monitoring-agent": {"openAgent": {"image": image}},
        "job-auto-restart": {"controller": {"image": image}},
    }


def test_a_missing_archive_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(PushError, match="make image"):
        push(tmp_path / "absent.oci.tar", "127.0.0.1:5000")


def test_the_registry_listens_on_loopback_only_and_keeps_its_storage_in_the_cluster(tmp_path: Path) -> None:
    layout = Layout("c", tmp_path / "c")
    config = registry.config(layout, 5123)
    assert config["http"] == {"addr": "127.0.0.1:5123", "headers": {"X-Content-Type-Options": ["nosniff"]}}
    assert config["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "c" / "registry")  # type: ignore[index]
