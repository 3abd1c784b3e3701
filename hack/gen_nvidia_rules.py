#!/usr/bin/env python3
"""Generate src/hyperpod_deps/health/rules/kmsg-nvidia.yaml, the NVIDIA kernel log rules.

Reads NVIDIA's catalogues as data (hack/nvidia/xid-catalogue.yaml, hack/nvidia/sxid-catalogue.yaml)
and gives every code one rule (`xid-<code>`, `sxid-<code>`) whose action comes from the policy in
hack/nvidia_policy.py (docs/decisions/0014-nvidia-catalogue-policy.md), plus the NVIDIA lines
that carry no code (a GPU lost at probe time, a failed GPU init) and the catch-alls for codes
NVIDIA has not published. Run with --check to fail (exit 1, with a diff) when the committed file
differs from what the catalogues produce.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml
from generated import write_or_check
from nvidia_policy import NVLINK5, Decision, sxid_decision, xid_decision

ROOT = Path(__file__).resolve().parent.parent
XIDS = ROOT / "hack/nvidia/xid-catalogue.yaml"
SXIDS = ROOT / "hack/nvidia/sxid-catalogue.yaml"
TARGET = ROOT / "src/hyperpod_deps/health/rules/kmsg-nvidia.yaml"
RULES_PER_DOCUMENT = 50

# The driver prints "NVRM: Xid (PCI:0000:3b:00): 13, ..." and, on a MIG GPU, the instances inside
# the parenthesis without a comma: "(PCI:0000:01:00 GPU-I:05)" or "(... GPU-I:01 GPU-CI:02)".
# `\b` after the code: 79 must not match 790, and some lines end right after the code.
XID = r"NVRM: Xid \((?:PCI:)?(?P<pci>[0-9A-Fa-f:.]+)(?: GPU-C?I:\d+)*\): (?P<xid>{code})\b"
NVLINK5_MARKER = r"(?:,[^(]*?\b(?P<severity>Fatal|Non-?fatal)\b)?"
RECOVERY = r"(?:.* to \S+ \((?P<recovery>[^)]*)\))?"
SXID = r"SXid \((?:PCI:)?(?P<pci>[0-9A-Fa-f:.]+)\): (?P<sxid>{code})\b"
RECOVERY_MAP = {"None": "none", "GPU Reset Required": "reboot", "Node Reboot Required": "reboot",
                "Drain P2P": "reboot", "Drain and Reset": "reboot", "Bus Reset": "reboot",
                "System Reboot": "reboot"}

# NVIDIA lines without a code. The probe-time message is printed as three lines ("The NVIDIA GPU
# <pci>", "(PCI ID: ...) installed in this system has", "fallen off the bus and is not responding
# to commands."): one kmsg record with \x0a between them, three lines in /var/log/messages, so
# the rule needs only the last. (The first line alone, "NVRM: The NVIDIA GPU <pci>", is left out: it
# says nothing of the fault by itself, and the third line of the same message is matched.)
_GPU_HW = {"faultType": "NvidiaGPUUnhealthy", "reason": "XidHardwareFailure"}
_REBOOT = {"action": "reboot", "escalation": "replace"}
LINE_RULES: list[dict[str, Any]] = [
    {"id": "gpu-fallen-off-bus",
     "description": "The driver found the GPU gone when it probed it (no Xid is printed then); as Xid 79.",
     "match": r"(?:NVRM: The NVIDIA GPU (?P<pci>[0-9A-Fa-f:.]+).*?)?"
              r"fallen off the bus and is not responding to commands",
     **_GPU_HW, "action": "replace"},
    {"id": "gpu-lost",
     "description": "The driver lost the GPU at run time; printed with or instead of Xid 79 (older "
                    "drivers: \"GPU at <pci>\"), as Xid 79.",
     "match": r"NVRM: GPU (?:at )?(?:PCI:)?(?P<pci>[0-9A-Fa-f:.]+):? (?:GPU )?has fallen off the bus",
     **_GPU_HW, "action": "replace"},
    {"id": "gpu-init-failed",
     "description": "The driver could not initialise the GPU (RmInitAdapter failed); as Xid 143 "
                    "(GPU_INIT_ERROR, NVIDIA: RESET_GPU).",
     "match": r"NVRM: (?:GPU (?P<pci>[0-9A-Fa-f:.]+): )?RmInitAdapter failed!?(?: \((?P<status>[^)]*)\))?",
     **_GPU_HW, **_REBOOT},
    {"id": "gpu-probe-failed",
     "description": "The driver's probe failed for some GPUs: the node has fewer GPUs than its type, "
                    "which the contract reboots for.",
     "match": r"NVRM: The NVIDIA probe routine failed for (?P<count>\d+) device",
     **_GPU_HW, **_REBOOT},
    {"id": "gpu-reset-required",
     "description": "The driver reports that the GPU needs a reset (NV_ERR_RESET_REQUIRED); a reboot "
                    "resets it, as RESET_GPU.",
     "match": r"Assertion failed: Reset required \[NV_ERR_RESET_REQUIRED\]",
     **_GPU_HW, **_REBOOT},
    # Its own rule, not an alternative in the one above: the prefilter keys on a literal every
    # match holds, and "NVRM: " alone would let every driver line through.
    {"id": "gpu-init-failed-minor",
     "description": "The driver could not initialise the GPU, as older drivers say it (rm_init_adapter, "
                    "with the device's minor number); as RmInitAdapter failed.",
     "match": r"(?:GPU (?P<pci>[0-9A-Fa-f:.]+): )?rm_init_adapter failed",
     **_GPU_HW, **_REBOOT},
    {"id": "driver-api-mismatch",
     "description": "The user-space driver and the kernel module are different versions: no GPU "
                    "work runs until they match; NVIDIA's bucket for driver issues is UPDATE_SWFW, "
                    "a warning (a reboot does not fix it).",
     "match": r"NVRM: API mismatch: the client has the version (?P<client>[\d.]+)",
     "faultType": "NvidiaGPUUnhealthy", "reason": "XidUnclassified", "action": "warning"},
    {"id": "nvlink-discovery-failed",
     "description": "The driver could not read the NVLink peers' link state at discovery; the links "
                    "stay down until a reset, as Xid 74's reset.",
     "match": r"NVRM: knvlinkDiscoverPostRxDetLinks_\w+: Getting peer\d+'s postRxDetLinkMask failed",
     "faultType": "NvidiaNVLinkUnhealthy", "reason": "NvlinkError", **_REBOOT},
]


def _rule(rule_id: str, description: str, match: str, decision: Decision, **extra: Any) -> dict[str, Any]:
    rule = {"id": rule_id, "description": description, "match": match, "faultType": decision.fault_type,
            "reason": decision.reason, "action": decision.action}
    if decision.escalation:
        rule["escalation"] = decision.escalation
    return {**rule, **extra}


def xid_rules(codes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = []
    for entry in codes:
        code, immediate = entry["code"], entry["immediate"]
        decision = xid_decision(code, immediate, entry["nvsentinel"])
        said = immediate or entry["nvsentinel"] or "no action published"
        text = f"{entry['summary']} Xid {code} ({entry['mnemonic']}); NVIDIA: {said}."
        if decision.why:
            text += f" Wire contract: {decision.action}."
        match = XID.format(code=code)
        extra: dict[str, Any] = {}
        if immediate == "WORKFLOW_NVLINK5_ERR":
            match += NVLINK5_MARKER
            extra["actionFrom"] = {"group": "severity", "map": dict(NVLINK5)}
        elif code == 154:  # the recovery the driver names decides; one it does not know: reboot
            match += RECOVERY
            decision = Decision("reboot", "NvidiaGPUUnhealthy", "XidRecoveryAction", "replace")
            extra["actionFrom"] = {"group": "recovery", "map": dict(RECOVERY_MAP)}
        rules.append(_rule(f"xid-{code}", text, match, decision, **extra))
    return rules


def sxid_rules(codes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rules = []
    for entry in codes:
        name = (entry["mnemonic"] or "no name published").removeprefix("NVSWITCH_ERR_HW_")
        severity = "fatal" if entry["fatal"] else "non-fatal"
        text = (f"NVSwitch SXid {entry['code']} ({name}), {severity} in NVIDIA's table; "
                f"NVIDIA: {entry['action']}.")
        rules.append(_rule(f"sxid-{entry['code']}", text, SXID.format(code=entry["code"]),
                           sxid_decision(entry["fatal"])))
    return rules


def catch_alls() -> tuple[dict[str, Any], dict[str, Any]]:
    xid = _rule("xid-other", "An Xid NVIDIA's catalogue does not list (a newer driver). A warning "
                "(condition and event, no quarantine); override by id to change it.",
                XID.format(code=r"\d+"), Decision("warning", "NvidiaGPUUnhealthy", "XidUnclassified"),
                priority=900)
    # An SXid code not in the table: only the word the driver printed is left to go by.
    sxid = _rule("sxid-other", "An SXid NVIDIA's table does not list: as the line says (Fatal: "
                 "replace, Non-fatal: event), else a warning.",
                 SXID.format(code=r"\d+") + r"(?:, (?P<severity>Fatal|Non-fatal))?",
                 Decision("warning", "NvidiaNVSwitchUnhealthy", "XidUnclassified"),
                 actionFrom={"group": "severity", "map": {"Fatal": "replace", "Non-fatal": "event"}},
                 priority=900)
    return xid, sxid


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _render(rule: dict[str, Any]) -> list[str]:
    lines = [f"  - id: {rule['id']}"]
    wrapped = textwrap.wrap(rule["description"], 96)
    lines += ["    description: >-", *(f"      {part}" for part in wrapped)]
    lines.append(f"    match: {_quoted(rule['match'])}")
    keys = ("faultType", "reason", "action", "escalation")
    lines += [f"    {key}: {rule[key]}" for key in keys if key in rule]
    if "actionFrom" in rule:
        lines += ["    actionFrom:", f"      group: {rule['actionFrom']['group']}", "      map:"]
        lines += [f"        {_quoted(key)}: {value}" for key, value in rule["actionFrom"]["map"].items()]
    if "priority" in rule:
        lines.append(f"    priority: {rule['priority']}")
    return lines


def render() -> str:
    xids, sxids = (yaml.safe_load(path.read_text()) for path in (XIDS, SXIDS))
    xid_other, sxid_other = catch_alls()
    rules = [*xid_rules(xids["codes"]), *LINE_RULES, xid_other, *sxid_rules(sxids["codes"]), sxid_other]
    # Names and versions only: the URLs, too long for a line here, are in the data files.
    sources = [line for s in xids["sources"] + sxids["sources"]
               for line in textwrap.wrap(f"{s['name']}: {s['version']}, retrieved {s['retrieved']}.", 110,
                                         break_on_hyphens=False, initial_indent="#   - ",
                                         subsequent_indent="#     ")]
    header = [
        "# GENERATED by hack/gen_nvidia_rules.py from hack/nvidia/xid-catalogue.yaml and",
        "# hack/nvidia/sxid-catalogue.yaml, through the policy of",
        "# docs/decisions/0014-nvidia-catalogue-policy.md (hack/nvidia_policy.py).",
        "# Do not edit: edit those and run `make generate`. Override a rule by id in an extra document.",
        "# Sources of the catalogues (URLs in the data files):", *sources,
        f"# In documents of {RULES_PER_DOCUMENT} rules: the agent parses one document at a time, which keeps",
        "# the memory it takes to read them (and keeps resident after) small.",
    ]
    body: list[str] = []
    for start in range(0, len(rules), RULES_PER_DOCUMENT):
        body += (["---"] if start else []) + ["source: kmsg", "rules:"]
        body += [line for rule in rules[start:start + RULES_PER_DOCUMENT] for line in _render(rule)]
    return "\n".join(header + body) + "\n"


def main() -> int:
    return write_or_check(__doc__, TARGET, render())


if __name__ == "__main__":
    sys.exit(main())
