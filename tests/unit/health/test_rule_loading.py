"""Rule documents: validation errors name the file and the rule; overrides and additions."""
from __future__ import annotations

from pathlib import Path

import pytest

from hyperpod_deps.core.health import Action
from hyperpod_deps.health.rules import RuleError, RuleSet, RuleSource, shipped_sources

GOOD = """
  - id: custom
    description: A custom rule.
    match: 'custom (?P<what>\\w+) failure'
    faultType: CustomUnhealthy
    reason: CustomFailure
    action: reboot
"""
XID79 = "6,1,2,-;NVRM: Xid (PCI:0000:b9:00): 79, pid=1, name=x, GPU has fallen off the bus."


def extra(text: str, name: str = "extra.yaml") -> RuleSet:
    return RuleSet(shipped_sources(), [RuleSource(name, text)])


def rule_of(rules: RuleSet, message: str) -> str | None:
    match = rules.match("kmsg", message)
    return match.rule if match else None


def error_of(text: str) -> str:
    with pytest.raises(RuleError) as caught:
        extra(text, "values/rules.yaml")
    return str(caught.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("source: kmsg\nrules:" + GOOD.replace("'custom (?P<what>\\w+) failure'", "'custom (unclosed'"),
     "values/rules.yaml: rule 0 (custom): "),
    ("source: kmsg\nrules:" + GOOD.replace("action: reboot", "action: explode"), "rule 0 (custom): action"),
    ("source: kmsg\nrules:" + GOOD.replace("faultType: CustomUnhealthy", "faultType: not camel"),
     "rule 0 (custom): faultType"),
    ("source: kmsg\nrules:" + GOOD.replace("reason: CustomFailure", "reason: " + "A" * 64), "reason"),
    ("source: kmsg\nrules:" + GOOD.replace("id: custom", "id: Custom_Rule"), "rule 0 (Custom_Rule): id"),
    ("source: kmsg\nrules:" + GOOD + "    colour: red\n", "rule 0 (custom): colour: unknown key"),
    ("source: kmsg\nrules:" + GOOD.replace("    action: reboot\n", ""),
     "rule 0 (custom): action: required"),
    ("source: kmsg\nrules:" + GOOD + GOOD, "rule 1 (custom): duplicate id in the same document"),
    ("source: kmsg\nrules:" + GOOD + "    escalation: event\n", "escalation must be replace or reboot"),
    ("source: kmsg\nrules:" + GOOD + "    actionFrom: {group: nope, map: {A: none}}\n",
     "actionFrom.group 'nope' is not a named group"),
    ("source: kmsg\nrules:" + GOOD + "    actionFrom: {group: what, map: {A: maybe}}\n", "actionFrom.map.A"),
    ("source: kmsg\nrules:\n  - description: no id\n", "rule 0: a rule is a mapping with a string id"),
    ("source: kmsg\nrules:\n  - just a string\n", "rule 0: a rule is a mapping"),
    ("source: nvml\nrules:\n  - id: xid-79\n    action: event\n",
     "overrides a rule of source kmsg, not nvml"),
    ("source: syslog\nrules: []\n", "source must be one of ['kmsg', 'nvml', 'neuron', 'efa'], not 'syslog'"),
    ("source: kmsg\nrule: []\n", "unknown keys ['rule']"),
    ("source: kmsg\nrules: {id: x}\n", "rules must be a list"),
    ("- a list\n", "document 0 is not a mapping"),
    ("source: kmsg\nrules: [\n", "not valid YAML"),
    ("source: kmsg\nthresholds: {retiredPages: 1}\n", "source kmsg has no thresholds"),
    ("source: nvml\nthresholds: {retiredPages: -1}\n", "values/rules.yaml: thresholds: retiredPages"),
    ("source: nvml\nthresholds: {throttleClockRatio: 2}\n", "throttleClockRatio"),
    ("source: efa\nthresholds: {counters: {rx_drops: {rise: -5}}}\n", "counters.rx_drops.rise"),
    ("source: efa\nthresholds: [1]\n", "thresholds must be a mapping"),
])
def test_a_bad_document_names_file_rule_and_problem(text: str, expected: str) -> None:
    message = error_of(text)
    assert message.startswith("values/rules.yaml: ") and expected in message, message


def test_a_duplicate_id_between_shipped_files_is_refused() -> None:
    shipped = shipped_sources()
    copy = RuleSource("rules/copy.yaml", "source: nvml\nrules:" + GOOD.replace("custom", "xid-79", 1))
    with pytest.raises(RuleError, match=r"rules/copy.yaml: rule 0 \(xid-79\): duplicate id, already defined"):
        RuleSet([*shipped, copy])


def test_an_override_changes_only_the_keys_it_gives() -> None:
    rules = extra("source: kmsg\nrules:\n  - id: xid-79\n    action: reboot\n")
    match = rules.match("kmsg", XID79.split(";", 1)[1])
    assert match is not None and (match.rule, match.action, match.reason) == ("xid-79", Action.REBOOT,
                                                                            "XidHardwareFailure")
    shipped = RuleSet.load().rule("xid-79")
    changed = rules.rule("xid-79")
    assert shipped is not None and changed is not None and changed.match == shipped.match


def test_disabling_a_rule_lets_the_next_one_match() -> None:
    rules = extra("source: kmsg\nrules:\n  - id: xid-79\n    enabled: false\n")
    match = rules.match("kmsg", XID79.split(";", 1)[1])
    assert match is not None and match.rule == "xid-other"  # the catch-all behind it
    assert len(rules) == len(RuleSet.load()) - 1
    assert "xid-79" not in {r.id for r in rules.rules("kmsg")}


def test_an_added_rule_matches_after_the_shipped_specific_ones_and_before_catch_alls() -> None:
    generic = GOOD.replace("custom (?P<what>\\w+) failure", r"NVRM: Xid .*: \d+,")
    rules = extra("source: kmsg\nrules:" + generic)
    assert rule_of(rules, "NVRM: Xid (PCI:0000:b9:00): 79, x") == "xid-79"
    assert rule_of(rules, "NVRM: Xid (PCI:0000:b9:00): 185, x") == "custom"


def test_priority_puts_an_added_rule_first() -> None:
    rules = extra("source: kmsg\nrules:" + GOOD.replace("custom (?P<what>\\w+) failure", "NVRM: Xid")
                  + "    priority: 10\n")
    assert rules.rules("kmsg")[0].id == "custom"
    assert rule_of(rules, "NVRM: Xid (PCI:0000:b9:00): 79, x") == "custom"


def test_a_later_document_overrides_an_earlier_addition_and_thresholds_merge() -> None:
    rules = RuleSet(shipped_sources(), [
        RuleSource("a.yaml", "source: kmsg\nrules:" + GOOD),
        RuleSource("b.yaml", "source: kmsg\nrules:\n  - id: custom\n    action: event\n---\n"
                             "source: efa\nthresholds:\n"
                             "  counters: {rx_drops: {rise: 5}, lifespan: {rise: 1}}\n"),
    ])
    match = rules.match("kmsg", "custom disk failure")
    assert match is not None and match.action == Action.EVENT and match.fault_type == "CustomUnhealthy"
    counters = rules.efa_thresholds.counters
    assert counters["rx_drops"].rise == 5 and counters["lifespan"].rise == 1
    assert counters["cmds_err"].rise == 10  # shipped, untouched


def test_load_reads_extra_files_and_names_an_unreadable_one(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("source: kmsg\nrules:" + GOOD)
    assert RuleSet.load([path]).rule("custom") is not None
    with pytest.raises(RuleError, match=r"missing.yaml: cannot read the rule file"):
        RuleSet.load([tmp_path / "missing.yaml"])


def test_escalation_by_id_or_by_source_path() -> None:
    rules = RuleSet.load()
    assert rules.escalation("xid-46") == Action.REPLACE
    assert rules.escalation("kmsg/xid-46") == Action.REPLACE
    assert rules.escalation("xid-79") is None  # already replace
    assert rules.escalation("no-such-rule") is None
    assert rules.source_of("gpu-count") == "nvml"


def test_fault_types_are_the_documented_set() -> None:
    assert RuleSet.load().fault_types() == [
        "EFAUnhealthy", "FilesystemUnhealthy", "HostHardwareUnhealthy", "MemoryUnhealthy",
        "NeuronDeviceUnhealthy", "NvidiaGPUApplicationError", "NvidiaGPUThrottled", "NvidiaGPUUnhealthy",
        "NvidiaNVLinkUnhealthy", "NvidiaNVSwitchUnhealthy", "SoftwareError", "StorageUnhealthy"]


def test_every_reboot_class_hardware_rule_escalates_to_replace() -> None:
    rules = RuleSet.load()
    software = {"SoftwareError"}
    for source in ("kmsg", "nvml", "neuron", "efa"):
        for rule in rules.rules(source):
            if rule.action == Action.REBOOT and rule.fault_type not in software:
                assert rule.escalation == Action.REPLACE, rule.id
