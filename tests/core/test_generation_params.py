"""GenerationParams.from_settings: the one place `[generation]` becomes parameters (ask, chat, cache keys,
prompt suites, tool loops)."""

from __future__ import annotations

from edgeprompt.backends.base import GenerationParams
from edgeprompt.config import DEFAULTS

SECTION = {"max_tokens": "64", "temperature": "0.7", "top_p": "0.9", "seed": "3"}


def test_the_section_becomes_typed_parameters() -> None:
    assert GenerationParams.from_settings(SECTION) == GenerationParams(64, 0.7, 0.9, 3)


def test_a_given_value_wins_over_its_setting_and_none_keeps_the_setting() -> None:
    p = GenerationParams.from_settings(SECTION, max_tokens=8, temperature=0.0, top_p=None, seed=None)
    assert p == GenerationParams(8, 0.0, 0.9, 3)


def test_the_shipped_defaults_read_cleanly() -> None:
    generation = {k: v[0] if isinstance(v, tuple) else v for k, v in DEFAULTS["generation"].items()}
    p = GenerationParams.from_settings(generation)
    assert p.max_tokens >= 1 and 0 < p.top_p <= 1 and p.temperature >= 0
