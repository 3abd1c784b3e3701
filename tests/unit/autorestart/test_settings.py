"""Controller settings and the leader-election rule, without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.autorestart.faults import Trigger
from hyperpod_deps.autorestart.metrics import Heartbeat
from hyperpod_deps.autorestart.settings import ControllerSettings, load
from hyperpod_deps.core.settings import SettingsError, convert
from hyperpod_deps.kube.leases import LeaseRecord, may_take


def test_defaults_leave_pytorchjobs_to_hyperpod() -> None:
    settings = ControllerSettings()
    assert settings.platform == "hyperpod"
    assert settings.handled_kinds() == ("MPIJob", "TFJob", "XGBoostJob", "PaddleJob")
    assert settings.policy().triggers == {Trigger.UNSCHEDULABLE, Trigger.NOT_READY, Trigger.NODE_DELETED}


def test_the_switch_and_the_generic_platform_take_pytorchjobs() -> None:
    assert (
        "PyTorchJob"
        in convert(ControllerSettings, {"handlePyTorchJobsOnHyperPod": True}).handled_kinds()
    )
    assert "PyTorchJob" in convert(ControllerSettings, {"platform": "generic"}).handled_kinds()


def test_pod_signals_turn_the_pod_trigger_on() -> None:
    settings = convert(ControllerSettings, {"triggers": {"podSignals": [7], "nodeNotReady": False}})
    assert settings.policy().triggers == {Trigger.UNSCHEDULABLE, Trigger.NODE_DELETED, Trigger.POD_SIGNAL}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("kindz: [MPIJob]", "kindz"),
        ("triggers: {nodeUnschedulabel: true}", "triggers.nodeUnschedulabel"),
        ("triggers: {podSignals: [99]}", "podSignals"),
        ("leaderElection: {renewDeadlineSeconds: 20}", "renewDeadlineSeconds < leaseDurationSeconds"),
        ("platform: openshift", "platform"),
        ("kinds: [CronJob]", "kinds"),
        ("[not, a, mapping]", "expected a mapping of settings, not list"),
    ],
)
def test_a_bad_settings_file_names_the_file_and_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as error:
        load(path)
    assert str(path) in str(error.value)
    assert named in str(error.value)


def test_unreadable_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"missing\.yaml"):
        load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("a: [")
    with pytest.raises(SettingsError, match=r"bad\.yaml"):
        load(tmp_path / "bad.yaml")


def lease(holder: str, duration: int = 15) -> LeaseRecord:
    return LeaseRecord(holder, duration, "t0", "t1", 0, "7")


@pytest.mark.parametrize(
    ("current", "unchanged_for", "expected"),
    [
        (None, 0.0, True),
        (lease(""), 0.0, True),
        (lease("me"), 0.0, True),
        (lease("other"), 14.9, False),
        (lease("other"), 15.0, True),
        (lease("other", duration=1), 1.0, True),
    ],
)
def test_who_may_take_the_lease(current: LeaseRecord | None, unchanged_for: float, expected: bool) -> None:
    assert may_take(current, "me", unchanged_for) is expected


def test_the_heartbeat_goes_stale_with_a_fake_clock() -> None:
    now = [100.0]
    heartbeat = Heartbeat(30, clock=lambda: now[0])
    assert heartbeat.healthy()
    now[0] = 129.9
    assert heartbeat.healthy()
    now[0] = 130.0
    assert not heartbeat.healthy()
    heartbeat.beat()
    assert heartbeat.healthy()
