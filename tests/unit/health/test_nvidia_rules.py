"""The NVIDIA rules generated from NVIDIA's catalogues: one rule per code, the action of the policy in
docs/decisions/0014-nvidia-catalogue-policy.md, and a generator whose --check catches a stale file.

The expected actions are written out here from the decision record, not taken from the generator,
so a change to hack/nvidia_policy.py that the record does not make fails."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hyperpod_deps.core.health import Action, strongest
from hyperpod_deps.health.prefilter import Prefilter
from hyperpod_deps.health.rules import RuleSet

ROOT = Path(__file__).resolve().parents[3]
RULES = RuleSet.load()
XIDS: list[dict[str, Any]] = yaml.safe_load((ROOT / "hack/nvidia/xid-catalogue.yaml").read_text())["codes"]
SXIDS: list[dict[str, Any]] = yaml.safe_load((ROOT / "hack/nvidia/sxid-catalogue.yaml").read_text())["codes"]

# Decision 14: NVIDIA's immediate action -> ours.
BUCKETS = {"RESET_GPU": "reboot", "RESTART_BM": "reboot", "RESTART_VM": "reboot", "WORKFLOW_XID_48": "reboot",
           "WORKFLOW_NVLINK_ERR": "reboot", "CHECK_MECHANICALS": "replace", "RESTART_APP": "event",
           "WORKFLOW_XID_45": "event", "IGNORE": "none", "CONTACT_SUPPORT": "warning",
           "UNEXPECTED_ERR_REPORT_ISSUE": "warning", "UPDATE_SWFW": "warning", "CHECK_UVM": "warning"}
FROM_LINE = {"WORKFLOW_NVLINK5_ERR", "XID_154"}  # without a known name in the line: reboot
# Decision 14: where the wire contract's fault table names the code, it wins.
CONTRACT = {79: "replace", 74: "replace", 64: "replace", 48: "replace", 95: "replace", 140: "replace",
            63: "reboot", 73: "reboot", 43: "event", 94: "event", 163: "event"}


def expected(entry: dict[str, Any]) -> str:
    if entry["code"] in CONTRACT:
        return CONTRACT[entry["code"]]
    buckets = [b for b in (entry["immediate"], entry["nvsentinel"]) if b]
    if any(b in FROM_LINE for b in buckets):
        return "reboot"
    actions = [BUCKETS[b] for b in buckets]
    # The two NVIDIA publications disagree on a few codes: the more disruptive action wins.
    return strongest([Action(a) for a in actions]).value if actions else "warning"


def xid_lines(code: int) -> list[str]:
    return [f"NVRM: Xid (PCI:0000:3b:00): {code}, pid=1234, name=python3, made-up text",
            f"NVRM: Xid (0000:3b:00): {code}, made-up text",
            f"NVRM: Xid (PCI:0000:01:00 GPU-I:05): {code}, pid=7194, made-up text",
            f"NVRM: Xid (PCI:0000:01:00 GPU-I:01 GPU-CI:02): {code}, pid=9, name=a, made-up text"]


def action_of(line: str) -> Action | None:
    match = RULES.match("kmsg", line)
    return match.action if match else None


def test_the_catalogues_are_whole() -> None:
    assert [e["code"] for e in XIDS] == list(range(1, 173))
    assert len({e["code"] for e in SXIDS}) == len(SXIDS) > 300
    assert all(e["mnemonic"] and e["summary"] for e in XIDS)


@pytest.mark.parametrize("entry", XIDS, ids=[f"xid-{e['code']}" for e in XIDS])
def test_every_xid_has_one_rule_with_the_policy_action(entry: dict[str, Any]) -> None:
    code = entry["code"]
    rule_id = f"xid-{code}"
    assert [r.id for r in RULES.rules("kmsg") if r.id == rule_id] == [rule_id]
    for line in xid_lines(code):
        match = RULES.match("kmsg", line)
        assert match is not None and (match.rule, match.action.value) == (rule_id, expected(entry)), line
        specific = [r.id for r in RULES.rules("kmsg") if r.priority < 900 and r.regex.search(line)]
        assert specific == [rule_id], line
    rule = RULES.rule(rule_id)
    assert rule is not None
    if rule.action is Action.REBOOT:
        assert rule.escalation is Action.REPLACE


def test_the_codes_of_the_user_trial_have_their_own_rules() -> None:
    wanted = {54: "replace", 110: "reboot", 142: "warning", 151: "reboot", 155: "reboot", 156: "reboot",
              158: "reboot", 160: "reboot", 162: "reboot"}
    for code, action in wanted.items():
        match = RULES.match("kmsg", xid_lines(code)[0])
        assert match is not None and (match.rule, match.action.value) == (f"xid-{code}", action)


def test_contract_reasons_and_fault_types_stay() -> None:
    found = {code: RULES.rule(f"xid-{code}") for code in (79, 74, 64, 48, 94, 154, 13)}
    assert {c: (r.fault_type, r.reason) for c, r in found.items() if r} == {
        79: ("NvidiaGPUUnhealthy", "XidHardwareFailure"), 74: ("NvidiaNVLinkUnhealthy", "NvlinkError"),
        64: ("NvidiaGPUUnhealthy", "XidRowRemapFailure"), 48: ("NvidiaGPUUnhealthy", "XidEccUncorrectable"),
        94: ("NvidiaGPUApplicationError", "XidContainedError"),
        154: ("NvidiaGPUUnhealthy", "XidRecoveryAction"),
        13: ("NvidiaGPUApplicationError", "XidUserAppError")}


@pytest.mark.parametrize("code", range(144, 151))
def test_the_nvlink5_marker_decides(code: int) -> None:
    base = f"NVRM: Xid (PCI:0018:01:00): {code}, UNIT_X {{}} XC0 i0 Link 09 (0x025525c6 0x00000000)"
    for marker, action in (("Fatal", Action.REBOOT), ("Nonfatal", Action.EVENT), ("Non-fatal", Action.EVENT)):
        match = RULES.match("kmsg", base.format(marker))
        assert match is not None and (match.rule, match.action) == (f"xid-{code}", action), marker
    # The word must be the marker, not part of the registers or a longer word.
    unmarked = f"NVRM: Xid (PCI:0018:01:00): {code}, UNIT_X XC0 i0 Link 09 (0x0 Fatal)"
    assert action_of(unmarked) is Action.REBOOT


def test_xid_154_keeps_the_action_the_driver_names() -> None:
    line = ("NVRM: Xid (PCI:0000:01:00 GPU-I:05): 154, GPU recovery action changed from 0x2 "
            "(Node Reboot Required) to 0x0 (None)")
    match = RULES.match("kmsg", line)
    assert match is not None and (match.rule, match.action) == ("xid-154", Action.NONE)


@pytest.mark.parametrize("entry", SXIDS, ids=[f"sxid-{e['code']}" for e in SXIDS])
def test_every_sxid_follows_the_table_not_the_line(entry: dict[str, Any]) -> None:
    code, fatal = entry["code"], entry["fatal"]
    action = Action.REPLACE if fatal else Action.EVENT
    # The word the driver prints says the opposite: the table decides.
    for word in ("Non-fatal" if fatal else "Fatal", "Severity 5 Engine instance 00"):
        line = f"nvidia-nvswitch3: SXid (PCI:0000:c1:00.0): {code}, {word}, Link 44 (First)"
        match = RULES.match("kmsg", line)
        assert match is not None and (match.rule, match.action) == (f"sxid-{code}", action), line


def test_codes_nvidia_has_not_published_fall_to_the_catch_alls() -> None:
    published = {e["code"] for e in XIDS}
    for code in (0, 173, 185, 790, 1000):
        assert code not in published
        match = RULES.match("kmsg", xid_lines(code)[2])
        assert match is not None and (match.rule, match.action) == ("xid-other", Action.WARNING)
    sxid = "nvidia-nvswitch1: SXid (PCI:0000:c3:00.0): 31001, {}, Link 1"
    assert action_of(sxid.format("Fatal")) is Action.REPLACE
    assert action_of(sxid.format("Non-fatal")) is Action.EVENT
    assert action_of(sxid.format("Severity 5")) is Action.WARNING


def test_the_kmsg_prefilter_still_has_keywords() -> None:
    prefilter = Prefilter(rule.regex for rule in RULES.rules("kmsg"))
    assert prefilter.always is False
    assert {"NVRM: Xid (", "SXid ("} <= set(prefilter.keywords)


def _generator() -> Any:
    sys.path.insert(0, str(ROOT / "hack"))
    try:
        spec = importlib.util.spec_from_file_location("gen_nvidia_rules", ROOT / "hack/gen_nvidia_rules.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "hack"))


def test_the_generated_file_is_current() -> None:
    gen = _generator()
    assert gen.TARGET.read_text() == gen.render()


def test_check_fails_with_a_diff_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    gen = _generator()
    stale = tmp_path / "kmsg-nvidia.yaml"
    stale.write_text(gen.render().replace("action: replace", "action: none", 1))
    monkeypatch.setattr(gen, "TARGET", stale)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    monkeypatch.setattr(sys, "argv", ["gen_nvidia_rules.py", "--check"])
    assert gen.main() == 1
    err = capsys.readouterr().err
    assert "-    action: none" in err and "+    action: replace" in err and "is stale" in err
