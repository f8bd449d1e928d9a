"""Routing policy: which installed model serves a tag, given the power state and the context needed.

On battery (or low charge) the smallest, most quantized model wins; on mains power the user's
default model wins when it carries the tag, else the largest. A model must be installed (its
folder exists for the backend this machine runs) and its context window must hold the request.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgeprompt.catalog.cards import ModelCard, resolve_backend
from edgeprompt.errors import UsageError

POWER_TTL_S = 30.0  # the battery state is read at most this often: a read is a syscall or psutil call
SYS_POWER = Path("/sys/class/power_supply")


@dataclass(frozen=True)
class PowerState:
    on_battery: bool
    percent: float | None
    source: str  # psutil | sysfs | setting | unknown

    def saving(self, low_percent: float) -> bool:
        """Save energy when discharging, or when the charge is low even if plugged in."""
        return self.on_battery or (self.percent is not None and self.percent < low_percent)

    def describe(self) -> str:
        where = "battery" if self.on_battery else "mains"
        return f"{where}{f' {self.percent:.0f}%' if self.percent is not None else ''}"


def _read_sysfs(root: Path) -> PowerState | None:
    """Linux: /sys/class/power_supply/*/{type,status,capacity}; AC adapters report `online`."""
    if not root.is_dir():
        return None
    batteries, ac_online = [], False
    for dev in sorted(root.iterdir()):
        try:
            kind = (dev / "type").read_text().strip()
            if kind == "Battery":
                status = (dev / "status").read_text().strip()
                cap = (dev / "capacity").read_text().strip()
                batteries.append((status, float(cap)))
            elif kind == "Mains" and (dev / "online").read_text().strip() == "1":
                ac_online = True
        except (OSError, ValueError):
            continue
    if not batteries:
        return None
    discharging = any(s == "Discharging" for s, _ in batteries) and not ac_online
    return PowerState(discharging, min(c for _, c in batteries), "sysfs")


def read_power(sysfs: Path = SYS_POWER) -> PowerState:
    """psutil when installed, then Linux sysfs; a machine with no battery is on mains."""
    try:
        import psutil

        batt = psutil.sensors_battery()
        if batt is not None:
            return PowerState(not bool(batt.power_plugged), float(batt.percent), "psutil")
    except (ImportError, AttributeError, OSError, RuntimeError):
        pass
    return _read_sysfs(sysfs) or PowerState(False, None, "unknown")


class PowerProbe:
    """Caches the power state for POWER_TTL_S; `mode` "ac" or "battery" (settings, tests) overrides it."""

    def __init__(self, mode: str = "auto", reader: Callable[[], PowerState] = read_power) -> None:
        if mode not in ("auto", "ac", "battery"):
            raise UsageError(f"[routing] power must be auto, ac or battery, not '{mode}'")
        self.mode = mode
        self.reader = reader
        self._cached: tuple[float, PowerState] | None = None

    def state(self) -> PowerState:
        if self.mode != "auto":
            return PowerState(self.mode == "battery", None, "setting")
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > POWER_TTL_S:
            self._cached = (now, self.reader())
        return self._cached[1]


def quant_bits(quantization: str) -> int:
    """Bits per weight from a card's quantization text: int4 / q4_0 / 4bit -> 4; unknown -> 16."""
    q = quantization.lower()
    if q in ("fp32", "f32", "float32"):
        return 32
    m = re.search(r"(\d+)", q)
    return int(m.group(1)) if m and int(m.group(1)) in (2, 3, 4, 5, 6, 8, 16) else 16


def is_installed(card: ModelCard, prefer: str = "auto") -> bool:
    """The card can run here: a built-in backend, or its folder for this machine's backend exists."""
    if card.backend in ("echo", "extractive"):
        return True
    try:
        kind = resolve_backend(card, prefer)
    except UsageError:
        return False
    path = card.path_for(kind)
    return path is not None and path.exists()


def estimate_tokens(text: str) -> int:
    """About four characters per token for English text under the usual BPE vocabularies."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class Choice:
    card: ModelCard | None  # None: nothing qualifies; the caller falls back to the default model
    reason: str


def choose(
    tag: str,
    cards: Sequence[ModelCard],
    *,
    default_id: str,
    need_tokens: int,
    saving: bool,
    installed: Callable[[ModelCard], bool],
) -> Choice:
    """The model for `tag` among `cards`; the shipped test fake `echo` only when it is the default."""
    tagged = [c for c in cards if tag in c.tags and (c.id != "echo" or c.id == default_id)]
    if not tagged:
        return Choice(None, f"no model is tagged '{tag}'")
    ready = [c for c in tagged if installed(c)]
    if not ready:
        return Choice(None, f"no model tagged '{tag}' is installed ({', '.join(c.id for c in tagged)})")
    roomy = [c for c in ready if c.context_length >= need_tokens]
    if not roomy:
        return Choice(None, f"no installed '{tag}' model has {need_tokens} tokens of context")
    if saving:
        best = min(
            roomy,
            key=lambda c: (
                c.size_mb if c.size_mb > 0 else math.inf,
                quant_bits(c.quantization),
                c.id != default_id,
                c.id,
            ),
        )
        return Choice(best, f"saving power: smallest '{tag}' model ({_size(best)})")
    best = min(roomy, key=lambda c: (c.id != default_id, -c.size_mb, c.id))
    why = "the default model" if best.id == default_id else f"the largest '{tag}' model ({_size(best)})"
    return Choice(best, f"{why} for '{tag}'")


def _size(card: ModelCard) -> str:
    size = f"{card.size_mb:.0f} MB" if card.size_mb > 0 else "size unknown"
    return f"{size}, {card.quantization}" if card.quantization else size
