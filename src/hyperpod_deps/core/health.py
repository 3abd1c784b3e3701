"""Pure types of node health shared by the health agent and the controllers that react to it.

Like node-problem-detector's pkg/types: no I/O, nothing from Kubernetes.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from hyperpod_deps.core import wire


class Action(enum.StrEnum):
    """What a detected fault asks for, from the strongest to the weakest."""

    REPLACE = "replace"
    REBOOT = "reboot"
    EVENT = "event"
    WARNING = "warning"
    NONE = "none"

    @property
    def quarantines(self) -> bool:
        return self in (Action.REPLACE, Action.REBOOT)

    @property
    def health_status(self) -> str | None:
        """The node-health label value this action sets; None leaves the label alone."""
        return {
            Action.REPLACE: wire.UNSCHEDULABLE_PENDING_REPLACEMENT,
            Action.REBOOT: wire.UNSCHEDULABLE_PENDING_REBOOT,
        }.get(self)

    @property
    def rank(self) -> int:
        return list(Action).index(self)


def strongest(actions: list[Action]) -> Action:
    return min(actions, key=lambda action: action.rank, default=Action.NONE)


@dataclass(frozen=True)
class Fault:
    """One detected fault, as the agent records it in the fault-details annotation and logs it."""

    timestamp: str  # RFC 3339, UTC
    type: str  # node condition type and fault-types label value, e.g. NvidiaGPUUnhealthy
    reason: str  # fault-reasons label value, e.g. XidHardwareFailure
    message: str
    action: Action
    rule: str  # id of the rule that matched, e.g. kmsg/xid-79
    source: str  # monitor that saw it: kmsg, nvml, neuron, efa

    def details(self) -> dict[str, str]:
        """The fault-details annotation entry (the wire contract's four keys)."""
        return {"timestamp": self.timestamp, "type": self.type, "reason": self.reason,
                "message": self.message}
