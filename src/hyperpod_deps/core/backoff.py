"""The retry delay of every loop that talks to the API server: doubling from a first delay up
to a ceiling, reset by a success, with optional jitter so that many agents that failed together
(an API server restart) do not all come back in the same instant."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    ceiling: float
    first: float = 0.2
    jitter: float = 0.0  # up to this share of the delay is added at random
    uniform: Callable[[], float] = field(default=random.random, repr=False)  # in [0, 1)
    delay: float = 0.0
    retry_at: float = 0.0

    def failed(self, now: float) -> float:
        """Record a failure at `now`; the seconds to wait before the next try."""
        self.delay = min(self.ceiling, max(self.first, self.delay * 2))
        wait = self.delay * (1 + self.jitter * self.uniform())
        self.retry_at = now + wait
        return wait

    def succeeded(self) -> None:
        self.delay, self.retry_at = 0.0, 0.0
