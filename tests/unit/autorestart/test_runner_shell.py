"""Two controller processes on the in-memory API: one leads, and when it is told to stop it ends
its term, hands the Lease back, and the standby leads at once."""
from __future__ import annotations

import socket
import threading
from typing import cast

from hyperpod_deps.autorestart.runner import Runtime, run
from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.core.settings import convert
from hyperpod_deps.kube.client import Kube
from hyperpod_deps.kube.leases import read_lease
from tests.support.fake_api import FakeApi
from tests.unit.autorestart.test_term_shell import PYTORCHJOB


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings() -> ControllerSettings:
    return convert(ControllerSettings, {
        "platform": "generic", "kinds": ["PyTorchJob"],
        "leaderElection": {"leaseName": "ar", "leaseNamespace": "kube-system", "leaseDurationSeconds": 60,
                           "renewDeadlineSeconds": 30, "retryPeriodSeconds": 0.1},
        "metrics": {"port": free_port(), "bindAddress": "127.0.0.1"}})


def holder(api: FakeApi) -> str:
    lease = read_lease(cast(Kube, api), "kube-system", "ar")
    return lease.holder if lease else ""


def test_a_stopped_leader_hands_over_to_the_standby_at_once() -> None:
    api = FakeApi(hold=True)
    api.serve(PYTORCHJOB)
    stops = {name: threading.Event() for name in ("a", "b")}
    threads = {name: threading.Thread(target=run, daemon=True,
                                      args=(lambda: cast(Kube, api), settings(), stops[name],
                                            Runtime(identity=name, namespace="kube-system")))
               for name in stops}
    threads["a"].start()
    try:
        assert api.wait_for(lambda: holder(api) == "a")
        threads["b"].start()
        stops["a"].set()
        threads["a"].join(timeout=30)
        assert not threads["a"].is_alive()
        # The Lease's duration is 60 s: only a release lets b lead within the wait.
        assert api.wait_for(lambda: holder(api) == "b", timeout=20)
    finally:
        for stop in stops.values():
            stop.set()
        api.close_watches()
        for thread in threads.values():
            thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads.values())
