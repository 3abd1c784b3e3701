"""The one retry delay: doubles from the first delay to the ceiling, resets on success, and
adds at most its jitter share of the delay."""
from __future__ import annotations

import pytest

from hyperpod_deps.core.backoff import Backoff


def test_doubles_from_the_first_delay_up_to_the_ceiling() -> None:
    backoff = Backoff(ceiling=1.0, first=0.2)
    assert [backoff.failed(0.0) for _ in range(5)] == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0])


def test_a_success_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(ceiling=10.0, first=1.0)
    backoff.failed(0.0)
    backoff.failed(0.0)
    backoff.succeeded()
    assert (backoff.delay, backoff.retry_at) == (0.0, 0.0)
    assert backoff.failed(5.0) == 1.0
    assert backoff.retry_at == 6.0


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 2.0), (0.5, 2.2), (0.999, 2.3996)])
def test_jitter_adds_at_most_its_share(draw: float, expected: float) -> None:
    backoff = Backoff(ceiling=30.0, first=2.0, jitter=0.2, uniform=lambda: draw)
    assert backoff.failed(100.0) == pytest.approx(expected)
    assert backoff.retry_at == pytest.approx(100.0 + expected)
    assert backoff.delay == 2.0  # the doubling is of the delay, not of the jittered wait
