"""Whatever a settings or rule file holds, converting it gives the model or a SettingsError that
names a key: never another exception (the agent must not crash on a garbage file)."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperpod_deps.autorestart.settings import ControllerSettings
from hyperpod_deps.core.settings import SettingsError, SettingsModel, convert
from hyperpod_deps.health.rule_model import Rule
from hyperpod_deps.health.settings import Settings
from hyperpod_deps.health.thresholds import EfaThresholds, NvmlThresholds

MODELS: list[type[SettingsModel]] = [Settings, ControllerSettings, Rule, NvmlThresholds, EfaThresholds]
KEYS = st.sampled_from(["sources", "logFiles", "paths", "writer", "metricsPort", "kinds", "triggers",
                        "podSignals", "metrics", "port", "counters", "rise", "actionFrom", "map", "id",
                        "match", "action", "platform", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-70000, 70000), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["/var/log/x", "PyTorchJob", "event", "generic"]))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(KEYS, inner, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None, derandomize=True)  # the same examples every run
@given(model=st.sampled_from(MODELS), data=st.dictionaries(KEYS, DATA, max_size=5))
def test_garbage_gives_the_model_or_a_settings_error(model: type[SettingsModel],
                                                     data: dict[str, Any]) -> None:
    try:
        convert(model, data)
    except SettingsError as error:
        key, _, problem = str(error).partition(": ")
        assert key and problem
