"""Energy per answer: measured where the machine exposes it, otherwise an estimate labelled as one.

Linux exposes Intel/AMD RAPL counters under `/sys/class/powercap/intel-rapl:N/energy_uj` (package
domains; often readable only by root, and absent in most VMs). macOS has `powermetrics`, which needs
root and samples power rather than counting energy; `powermetrics_watts` parses one sample for the
benchmark. Without a counter, energy is estimated as process CPU seconds × a nominal watts-per-busy-core
(setting `[observatory] watts_per_core`), and every figure says `"source": "estimate"`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

POWERCAP = Path("/sys/class/powercap")
_PACKAGE = re.compile(r"^intel-rapl:\d+$")  # package domains only; subzones (core, dram) are inside them


@dataclass(frozen=True)
class RaplZone:
    path: Path
    max_uj: int

    def read(self) -> int:
        return int((self.path / "energy_uj").read_text().strip())


def rapl_zones(root: Path | None = None) -> list[RaplZone]:
    """Readable RAPL package zones (an empty list when absent or not permitted)."""
    root = POWERCAP if root is None else root
    zones: list[RaplZone] = []
    if not root.is_dir():
        return zones
    for d in sorted(root.iterdir()):
        if not _PACKAGE.match(d.name):
            continue
        try:
            max_uj = int((d / "max_energy_range_uj").read_text().strip())
            zone = RaplZone(d, max_uj)
            zone.read()
        except (OSError, ValueError):
            continue
        zones.append(zone)
    return zones


def _delta_uj(before: int, after: int, max_uj: int) -> int:
    """A RAPL counter wraps at max_energy_range_uj."""
    return after - before if after >= before else after + max_uj - before


@dataclass(frozen=True)
class Reading:
    joules: float
    cpu_s: float
    wall_s: float
    source: str  # rapl | estimate

    def attributes(self) -> dict[str, float | str]:
        return {
            "edgeprompt.energy.joules": round(self.joules, 4),
            "edgeprompt.energy.source": self.source,
            "edgeprompt.cpu_s": round(self.cpu_s, 4),
        }


class EnergyMeter:
    """Started when a request starts, read when it ends. RAPL counts the whole package (other processes
    too); the estimate counts this process's CPU time (all its threads)."""

    _zones: list[RaplZone] | None = None  # probed once per process

    def __init__(self, watts_per_core: float = 10.0) -> None:
        if EnergyMeter._zones is None:
            EnergyMeter._zones = rapl_zones()
        self.watts_per_core = watts_per_core
        self.zones = EnergyMeter._zones
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        self.uj0 = self._read_all()

    def _read_all(self) -> list[int] | None:
        if not self.zones:
            return None
        try:
            return [z.read() for z in self.zones]
        except (OSError, ValueError):
            return None

    def read(self) -> Reading:
        wall = time.perf_counter() - self.t0
        cpu = time.process_time() - self.cpu0
        now = self._read_all()
        if self.uj0 is not None and now is not None:
            uj = sum(_delta_uj(a, b, z.max_uj) for a, b, z in zip(self.uj0, now, self.zones, strict=True))
            return Reading(uj / 1e6, cpu, wall, "rapl")
        return Reading(cpu * self.watts_per_core, cpu, wall, "estimate")


_PM_LINE = re.compile(r"^(Combined Power \(CPU \+ GPU \+ ANE\)|CPU Power|Package Power):\s*([\d.]+)\s*mW", re.M)


def parse_powermetrics(text: str) -> float | None:
    """Watts from one `powermetrics --samplers cpu_power` sample (combined power preferred)."""
    found = {m.group(1): float(m.group(2)) for m in _PM_LINE.finditer(text)}
    for key in ("Combined Power (CPU + GPU + ANE)", "Package Power", "CPU Power"):
        if key in found:
            return found[key] / 1000.0
    return None


def powermetrics_watts(interval_ms: int = 500) -> float | None:
    """One power sample on macOS when running as root; None elsewhere (the caller then estimates)."""
    import os

    if sys.platform != "darwin" or os.geteuid() != 0:
        return None
    try:
        out = subprocess.run(
            ["powermetrics", "--samplers", "cpu_power", "-i", str(interval_ms), "-n", "1"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_powermetrics(out)


def source_of_machine() -> str:
    """What per-answer energy figures on this machine will be: rapl or estimate."""
    return "rapl" if rapl_zones() else "estimate"
