"""The agent's /metrics endpoint: it answers scrapes, sleeps between them (no polling thread),
and closes at once, freeing its port."""
from __future__ import annotations

import time
import urllib.request

import pytest

from hyperpod_deps.health.metrics import Metrics


def test_a_scrape_shows_the_agents_metrics_and_close_ends_the_server_at_once() -> None:
    metrics = Metrics()
    metrics.pending.set(3)
    server = metrics.serve(0)  # 0 here: any free port
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as answer:
        assert "hyperpod_health_pending_faults 3.0" in answer.read().decode()
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1  # not a poll interval: the shutdown wakes it
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)
