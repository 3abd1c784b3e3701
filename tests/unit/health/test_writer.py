"""What the writer keeps when faults pile up unwritten (the API server away during a flood)."""
from __future__ import annotations

from hyperpod_deps.core.health import Action, Fault
from hyperpod_deps.health.writer import shed


def fault(action: Action, index: int) -> Fault:
    return Fault(f"t{index}", "T", "R", f"line {index}", action, "kmsg/r", "kmsg")


def test_nothing_is_dropped_under_the_limit() -> None:
    faults = [fault(Action.EVENT, i) for i in range(3)]
    assert shed(faults, 3) == [0, 1, 2]


def test_the_oldest_that_quarantine_nothing_go_first() -> None:
    faults = [fault(Action.EVENT, 0), fault(Action.REPLACE, 1), fault(Action.WARNING, 2),
              fault(Action.EVENT, 3), fault(Action.REBOOT, 4)]
    assert shed(faults, 3) == [1, 3, 4]


def test_a_quarantine_is_never_dropped_even_over_the_limit() -> None:
    faults = [fault(Action.REPLACE, i) for i in range(4)] + [fault(Action.EVENT, 4)]
    assert shed(faults, 2) == [0, 1, 2, 3]

