"""Every hand-written shipped rule says where its line format was seen, and so does its sample.

Generated rule files (kmsg-nvidia.yaml, from NVIDIA's catalogues) carry their provenance in the
generator; the NVIDIA rules still in kmsg.yaml (ids xid-*, sxid-*) belong to them too.
"""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from hyperpod_deps.core.health import Action
from hyperpod_deps.core.settings import convert
from hyperpod_deps.health.kernel_log import parse_record
from hyperpod_deps.health.rule_model import Rule
from hyperpod_deps.health.rules import RuleSet, shipped_sources
from tests.unit.health.samples import samples

HAND_WRITTEN = ("rules/kmsg.yaml", "rules/efa.yaml", "rules/neuron.yaml")
NVIDIA_IDS = ("xid-", "sxid-")


def _hand_written_rules() -> list[tuple[str, dict[str, Any]]]:
    rules = []
    for source in shipped_sources():
        if source.name not in HAND_WRITTEN:
            continue
        for document in yaml.safe_load_all(source.text):
            for raw in (document or {}).get("rules") or []:
                if not str(raw["id"]).startswith(NVIDIA_IDS):
                    rules.append((source.name, raw))
    return rules


HAND_WRITTEN_RULES = _hand_written_rules()


def test_the_hand_written_files_are_found() -> None:
    assert {name for name, _ in HAND_WRITTEN_RULES} == set(HAND_WRITTEN)


@pytest.mark.parametrize(("name", "raw"), HAND_WRITTEN_RULES, ids=[r["id"] for _, r in HAND_WRITTEN_RULES])
def test_every_hand_written_rule_names_where_its_format_was_seen(name: str, raw: dict[str, Any]) -> None:
    seen_in = raw.get("seenIn")
    assert isinstance(seen_in, str) and seen_in.strip(), f"{name}: rule {raw['id']} has no seenIn"


def test_every_hand_written_kernel_rule_sample_names_its_source() -> None:
    kernel_rules = {raw["id"] for name, raw in HAND_WRITTEN_RULES if name == "rules/kmsg.yaml"}
    missing = [(rule_id, case["line"]) for rule_id, cases in samples()["kmsg"].items()
               if rule_id in kernel_rules for case in cases if not str(case.get("from", "")).strip()]
    assert not missing, f"samples without `from` in tests/data/kernel-logs/samples.yaml: {missing}"


def test_seen_in_is_optional_for_users_rules_and_never_empty() -> None:
    fields = {"id": "my-rule", "description": "d", "match": "x", "faultType": "T", "reason": "R",
              "action": "warning"}
    assert convert(Rule, fields).seen_in is None
    assert convert(Rule, {**fields, "seenIn": "https://example.org/log"}).seen_in
    with pytest.raises(ValueError):
        convert(Rule, {**fields, "seenIn": ""})


def test_a_neuron_line_that_asks_to_terminate_the_instance_replaces_whatever_rule_matches() -> None:
    # The driver's own recommendation must win over a specific rule that would only reboot. The
    # line is the one of aws-neuron-sdk neuron-runtime/nrt-troubleshoot.rst with the error changed.
    rules = RuleSet.load()
    neuron_rules = [r for r in rules.rules("kmsg") if r.match.startswith("NEURON_HW_ERR=")]
    assert neuron_rules
    for error in ("SRAM_UNCORRECTABLE_ERROR", "NC_UNCORRECTABLE_ERROR", "HBM_UNCORRECTABLE_ERROR",
                  "DMA_ERROR", "SOME_FUTURE_ERROR"):
        line = (f"3,1,2,-;NEURON_HW_ERR={error} instance-id=i-0592464924bd45322 hostname=ip-172-31-61-252 "
                "nd-id=0 nc-id=0 serial-num=19fcda00f5ff6eb9 action=TERMINATE_INSTANCE")
        record = parse_record(line)
        assert record is not None
        match = rules.match("kmsg", record.message)
        assert match is not None and match.action is Action.REPLACE, (error, match)


def test_a_loop_device_never_counts_as_the_nodes_disk() -> None:
    # The formats of fs/ext4/super.c, fs/xfs/xfs_fsops.c, block/blk-mq.c and fs/buffer.c (torvalds/linux),
    # filled in with a loop device.
    rules = RuleSet.load()
    messages = ("EXT4-fs (loop3): Remounting filesystem read-only",
                "XFS (loop0): Corruption of in-memory data (0x8) detected at xfs_trans_cancel+0x1a0/0x1d0"
                " [xfs] (fs/xfs/xfs_trans.c:1097).  Shutting down filesystem.",
                "I/O error, dev loop7, sector 2048 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0",
                "Buffer I/O error on dev loop7, logical block 0, async page read")
    for message in messages:
        assert rules.match("kmsg", message) is None, message
