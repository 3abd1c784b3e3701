"""Waiting for the cluster to reach a state: poll with a deadline, never a fixed sleep."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

Observed = TypeVar("Observed")

POLL_INTERVAL_SECONDS = 0.25


class NotReached(AssertionError):
    """The state was not reached before the deadline; the message shows the last observation."""


def poll(observe: Callable[[], Observed], reached: Callable[[Observed], bool], what: str,
         timeout_seconds: float = 60.0) -> Observed:
    """Observe until `reached` holds, returning that observation; fail with the last one seen.

    The pause between observations only spaces out API calls: the test moves on the moment
    the state is reached, and fails at the deadline instead of hanging.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        observed = observe()
        if reached(observed):
            return observed
        if time.monotonic() >= deadline:
            raise NotReached(f"after {timeout_seconds:.0f}s, still waiting for {what}; last seen: "
                             f"{_shorten(repr(observed))}")
        time.sleep(POLL_INTERVAL_SECONDS)


def _shorten(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"
