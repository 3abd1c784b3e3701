"""The health rules: shipped rule files (per source) plus users' extra documents.

Within a source, rules are tried by ascending `priority` (default 100), ties in load order
(shipped files first, then extra documents in the order given); the first rule that matches
wins. Rule ids are unique across all sources.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyperpod_deps.core.health import Action
from hyperpod_deps.core.settings import convert
from hyperpod_deps.health.prefilter import Prefilter
from hyperpod_deps.health.rule_documents import SOURCES, merge
from hyperpod_deps.health.rule_index import RuleIndex
from hyperpod_deps.health.rule_model import ActionFrom, Match, Rule, RuleError, RuleSource
from hyperpod_deps.health.thresholds import EfaThresholds, NeuronThresholds, NvmlThresholds

__all__ = ["SOURCES", "ActionFrom", "Match", "Rule", "RuleError", "RuleSet", "RuleSource", "shipped_sources"]


def shipped_sources() -> list[RuleSource]:
    """The rule files shipped in the package: per source `<source>.yaml`, then its
    `<source>-*.yaml` by name (kmsg-nvidia.yaml is generated from NVIDIA's catalogues). The order
    is fixed because it breaks priority ties."""
    # Beside this module, read as files: the package is always installed unpacked, and
    # importlib.resources would cost the node agent 1 MiB of resident memory (decision 17).
    folder = Path(__file__).with_name("rules")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".yaml"))
    ordered = [name for source in SOURCES
               for name in [f"{source}.yaml", *(n for n in names if n.startswith(f"{source}-"))]]
    return [RuleSource(f"rules/{name}", folder.joinpath(name).read_text()) for name in ordered]


def read_sources(extra: Sequence[Path | RuleSource]) -> list[RuleSource]:
    """Extra documents as RuleSources; a file that cannot be read is a RuleError."""
    sources = []
    for item in extra:
        if isinstance(item, RuleSource):
            sources.append(item)
            continue
        try:
            sources.append(RuleSource(str(item), Path(item).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            raise RuleError(f"{item}: cannot read the rule file: {error}") from error
    return sources


class RuleSet:
    def __init__(self, shipped: Sequence[RuleSource], extra: Sequence[RuleSource] = ()) -> None:
        merged = merge(shipped, extra)
        self._all = merged.rules
        order = {rule_id: index for index, rule_id in enumerate(merged.rules)}
        self._by_source: dict[str, list[Rule]] = {
            source: sorted(
                (rule for s, rule in merged.rules.values() if s == source and rule.enabled),
                key=lambda rule: (rule.priority, order[rule.id]),
            )
            for source in SOURCES
        }
        self._prefilters = {s: Prefilter(r.regex for r in rules) for s, rules in self._by_source.items()}
        self._indexes = {source: RuleIndex(rules) for source, rules in self._by_source.items()}
        self._thresholds: dict[str, dict[str, Any]] = merged.thresholds

    @classmethod
    def load(cls, extra_files: Sequence[Path | RuleSource] = ()) -> RuleSet:
        """The shipped rules with the extra documents applied; RuleError names what is wrong."""
        return cls(shipped_sources(), read_sources(extra_files))

    def match(self, source: str, message: str) -> Match | None:
        """The first enabled rule of `source` matching `message`, or None."""
        if not self._prefilters[source].may_match(message):
            return None
        return self.match_unfiltered(source, message)

    def match_unfiltered(self, source: str, message: str) -> Match | None:
        """Like match, for a caller that already passed `may_match`."""
        for rule in self._indexes[source].candidates(message):
            found = rule.regex.search(message)
            if found:
                return Match(rule.id, rule.fault_type, rule.reason, rule.resolve(found),
                             message.strip(), source)
        return None

    def may_match(self, source: str, line: str | bytes) -> bool:
        """False only when no rule of `source` can match `line` (or any text within it)."""
        return self._prefilters[source].may_match(line)

    def escalation(self, rule_id: str) -> Action | None:
        """What a recurrence after the rule's own remedy calls for; `kmsg/xid-79` or `xid-79`."""
        entry = self._all.get(rule_id.rpartition("/")[2])
        return entry[1].escalation if entry else None

    def rules(self, source: str) -> list[Rule]:
        """The enabled rules of a source, in the order they are tried."""
        return list(self._by_source[source])

    def rule(self, rule_id: str) -> Rule | None:
        entry = self._all.get(rule_id.rpartition("/")[2])
        return entry[1] if entry else None

    def source_of(self, rule_id: str) -> str | None:
        entry = self._all.get(rule_id.rpartition("/")[2])
        return entry[0] if entry else None

    def fault_types(self) -> list[str]:
        """Every fault type an enabled rule can report: the node conditions the agent owns."""
        return sorted({rule.fault_type for rules in self._by_source.values() for rule in rules})

    def __len__(self) -> int:
        """How many rules are enabled, over all sources."""
        return sum(len(rules) for rules in self._by_source.values())

    @property
    def nvml_thresholds(self) -> NvmlThresholds:
        return convert(NvmlThresholds, self._thresholds.get("nvml", {}))

    @property
    def efa_thresholds(self) -> EfaThresholds:
        return convert(EfaThresholds, self._thresholds.get("efa", {}))

    @property
    def neuron_thresholds(self) -> NeuronThresholds:
        return convert(NeuronThresholds, self._thresholds.get("neuron", {}))
