"""The one policy from NVIDIA's resolution buckets to our rule actions (docs/decisions/0014).

Pure data and functions, shared by hack/gen_nvidia_rules.py and the tests that check the
generated rules against it. Where WIRE-CONTRACT.md's fault table names a code, CONTRACT wins.
"""
from __future__ import annotations

from dataclasses import dataclass

# What NVIDIA's immediate action asks of the node, as one of our actions. We cannot reset a
# single GPU from the agent, and a reboot resets every GPU, so every reset or restart below the
# node becomes a reboot; a recurrence after it escalates to replace (RESET_GPU's own follow-up
# in the catalogue is CONTACT_SUPPORT, which on a cloud node means a new host).
BUCKET_ACTIONS: dict[str, str] = {
    "RESET_GPU": "reboot",
    "RESTART_BM": "reboot",
    "RESTART_VM": "reboot",  # on HyperPod the VM that owns the GPU is the node
    "WORKFLOW_XID_48": "reboot",  # solo: RESET_GPU; with 63/64: drain and reset
    "WORKFLOW_NVLINK_ERR": "reboot",  # the catalogue: a GPU reset or node reboot clears it
    "CHECK_MECHANICALS": "replace",  # someone must reseat hardware: a new host on a cloud node
    "RESTART_APP": "event",
    "WORKFLOW_XID_45": "event",  # the application was torn down; the cause is another Xid
    "IGNORE": "none",
    "CONTACT_SUPPORT": "warning",  # no automatable remedy: a person looks, the node keeps running
    "UNEXPECTED_ERR_REPORT_ISSUE": "warning",
    "UPDATE_SWFW": "warning",  # a driver/firmware mismatch: a reboot does not fix it
    "CHECK_UVM": "warning",  # RESET_GPU only where UVM/vGPU is used, which a line cannot tell
}
# The action named in the line decides (see NVLINK5 and the Xid 154 rule).
FROM_LINE = {"WORKFLOW_NVLINK5_ERR", "XID_154"}
# An Xid NVIDIA has not given a bucket: as the catch-all, a warning.
UNPUBLISHED = "warning"
# Strength, as hyperpod_deps.core.health.Action orders it: the higher wins a disagreement.
RANK = {"none": 0, "warning": 1, "event": 2, "reboot": 3, "replace": 4}

# NVLink5 (GB200, Xid 144-150): the line prints Fatal or Nonfatal after the unit. Fatal rows of
# the catalogue's decode sheet are RESET_GPU; Nonfatal rows are IGNORE or "RESTART_APP unless an
# Xid 154 follows" (the 154 rule then acts), so the stronger of those, event. No marker: reboot.
NVLINK5 = {"Fatal": "reboot", "Nonfatal": "event", "Non-fatal": "event"}
NVLINK_CODES = {74, 136, 137, 144, 145, 146, 147, 148, 149, 150, 155}


@dataclass(frozen=True)
class Decision:
    action: str
    fault_type: str
    reason: str
    escalation: str | None = None
    why: str = ""  # set where the wire contract overrides the catalogue


_HW = ("NvidiaGPUUnhealthy", "XidHardwareFailure")
_ECC = ("NvidiaGPUUnhealthy", "XidEccUncorrectable")
_APP = ("NvidiaGPUApplicationError", "XidUserAppError")
_LINK = ("NvidiaNVLinkUnhealthy", "NvlinkError")
_UNCLASSIFIED = ("NvidiaGPUUnhealthy", "XidUnclassified")

# The wire contract's fault table, code by code, where it names an Xid.
CONTRACT: dict[int, Decision] = {
    79: Decision("replace", *_HW, why="contract: Xid 79 replaces (NVIDIA: RESTART_BM)"),
    74: Decision("replace", *_LINK, why="contract: Xid 74 replaces (NVIDIA: WORKFLOW_NVLINK_ERR)"),
    64: Decision("replace", "NvidiaGPUUnhealthy", "XidRowRemapFailure",
                 why="contract: row-remap failure replaces (NVIDIA: RESET_GPU)"),
    48: Decision("replace", *_ECC, why="contract: double-bit ECC replaces (NVIDIA: WORKFLOW_XID_48)"),
    95: Decision("replace", *_ECC, why="contract: uncontained ECC replaces (NVIDIA: RESET_GPU)"),
    140: Decision("replace", *_ECC, why="contract: unrecovered ECC replaces (NVIDIA: RESET_GPU)"),
    63: Decision("reboot", *_HW, "replace",
                 why="contract: hardware Xid, reboot applies the remap (NVIDIA: IGNORE)"),
    73: Decision("reboot", *_HW, "replace",
                 why="contract: hardware Xid (NVIDIA: unused, CONTACT_SUPPORT)"),
    43: Decision("event", *_APP, why="contract: application Xid (NVIDIA: IGNORE)"),
    94: Decision("event", "NvidiaGPUApplicationError", "XidContainedError",
                 why="contract: contained error, only the application fails (NVIDIA: RESTART_APP)"),
    163: Decision("event", "NvidiaGPUApplicationError", "XidEvent",
                  why="contract: event only (NVIDIA: no bucket published)"),
}


def bucket_action(bucket: str | None) -> str | None:
    """Our action for one NVIDIA bucket; None for an empty cell or a bucket read from the line."""
    if bucket is None or bucket in FROM_LINE:
        return None
    return BUCKET_ACTIONS[bucket]


def xid_decision(code: int, immediate: str | None, nvsentinel: str | None) -> Decision:
    """The action for an Xid: the contract's where it names the code, else the stronger of what
    NVIDIA's two publications (the catalogue, NVSentinel's mapping) ask for."""
    if code in CONTRACT:
        return CONTRACT[code]
    actions = [a for a in (bucket_action(immediate), bucket_action(nvsentinel)) if a]
    line_decides = immediate in FROM_LINE or nvsentinel in FROM_LINE
    # Where the line decides (the rule's actionFrom), reboot stands for a line naming nothing known.
    fallback = "reboot" if line_decides else UNPUBLISHED
    action = max(actions, key=RANK.__getitem__) if actions else fallback
    fault_type, reason = _kind(code, action)
    return Decision(action, fault_type, reason, "replace" if action == "reboot" else None)


def _kind(code: int, action: str) -> tuple[str, str]:
    if code in NVLINK_CODES:
        return _LINK
    return {"replace": _HW, "reboot": _HW, "event": _APP, "warning": _UNCLASSIFIED,
            "none": ("NvidiaGPUUnhealthy", "XidEvent")}[action]


def sxid_decision(fatal: bool) -> Decision:
    """The contract: a fatal SXid replaces (the fabric of the node is down, whatever NVIDIA's
    per-code remedy); a non-fatal one, which the switch corrected, is an event."""
    if fatal:
        return Decision("replace", "NvidiaNVSwitchUnhealthy", "SXidFatalError")
    return Decision("event", "NvidiaNVSwitchUnhealthy", "SXidNonFatalError")
