"""The shipped semantic-cache operating point and the figures it was measured with.

`edgeprompt/shipped/cache/semantic.toml` holds the cosine threshold a candidate needs when the guards decide
alone (the verifier switched off or not installed); it was picked on the tune half of the QQP-derived pairs
by an earlier calibration, and on the calib split no guards-only threshold reaches precision 0.97.
`edgeprompt/shipped/cache/verifier/operating_point.toml`, written by `scripts/calibrate_cache --write` from
the calib split of the verifier's pairs only, holds the cosine floor the cache uses when the verifier is
on and the probability a candidate above it also needs. The verifier only vetoes: a candidate must pass
the floor and every guard as well.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

FALLBACK_THRESHOLD = 0.97  # used only if the shipped file is missing from a broken install


@dataclass(frozen=True)
class Calibration:
    threshold: float
    measured: dict[str, Any] = field(default_factory=dict)


def _read(name: str) -> dict[str, Any] | None:
    try:
        text = resources.files("edgeprompt.shipped").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return None
    return tomllib.loads(text)


def shipped() -> Calibration:
    data = _read("cache/semantic.toml")
    if data is None:
        return Calibration(FALLBACK_THRESHOLD, {"note": "edgeprompt/shipped/cache/semantic.toml is missing"})
    return Calibration(float(data["threshold"]), dict(data.get("measured", {})))


def verifier_point() -> Calibration:
    """The verifier's minimum probability (as `threshold`) and its figures; 1.0 (serve nothing) if missing."""
    data = _read("cache/verifier/operating_point.toml")
    if data is None:
        return Calibration(1.0, {"note": "edgeprompt/shipped/cache/verifier/operating_point.toml is missing"})
    return Calibration(float(data["min_probability"]), dict(data.get("measured", {})))


def verifier_floor() -> float:
    """The cosine floor picked together with the verifier's probability; the guards-only threshold when the
    operating point predates the floor (an older file)."""
    data = _read("cache/verifier/operating_point.toml")
    return float(data["cosine_floor"]) if data and "cosine_floor" in data else shipped().threshold


def effective(setting: float, with_verifier: bool = False) -> float:
    """The [cache] semantic_threshold setting, or, when it is negative, the calibrated value: the verifier's
    cosine floor if the verifier judges candidates, else the guards-only threshold."""
    if setting >= 0:
        return float(setting)
    return verifier_floor() if with_verifier else shipped().threshold
