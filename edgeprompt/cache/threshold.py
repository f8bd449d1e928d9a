"""The shipped semantic-cache operating point and the figures it was measured with.

`edgeprompt/shipped/cache/semantic.toml` holds the cosine threshold a candidate needs (with the content gate on);
`edgeprompt/shipped/cache/verifier/operating_point.toml`, written by `scripts/calibrate_cache --write`, holds the pair
verifier's probability a candidate above that threshold also needs. The verifier only vetoes: it never
admits a candidate the threshold and the guards would refuse.
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


def effective(setting: float) -> float:
    """The [cache] semantic_threshold setting, or the shipped calibrated value when it is negative."""
    return float(setting) if setting >= 0 else shipped().threshold
