"""The shipped semantic-cache threshold and the figures it was measured with (`models/cache/semantic.toml`).

`scripts/calibrate_cache` writes that file: it sweeps the cosine threshold on one part of the labelled
pairs (with the content gate on), keeps the lowest threshold whose precision reaches the target there,
and records precision/recall on the held-out part and the false-hit rate on the repo's near-miss set.
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


def shipped() -> Calibration:
    try:
        text = resources.files("edgeprompt.shipped").joinpath("cache/semantic.toml").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        return Calibration(FALLBACK_THRESHOLD, {"note": "models/cache/semantic.toml is missing"})
    data = tomllib.loads(text)
    return Calibration(float(data["threshold"]), dict(data.get("measured", {})))


def effective(setting: float) -> float:
    """The [cache] semantic_threshold setting, or the shipped calibrated value when it is negative."""
    return float(setting) if setting >= 0 else shipped().threshold
