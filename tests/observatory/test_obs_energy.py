"""Energy per answer: RAPL counters where readable (a powercap tree in a temp dir stands in for /sys),
else an estimate labelled as one; powermetrics output parsing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeprompt.observatory import energy


def _zone(root: Path, name: str, uj: int, max_uj: int = 262143328850) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "energy_uj").write_text(f"{uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return d


def test_rapl_package_zones_are_read_and_wraparound_is_handled(tmp_path: Path, monkeypatch: Any) -> None:
    pkg0 = _zone(tmp_path, "intel-rapl:0", 1_000_000)
    _zone(tmp_path, "intel-rapl:0:0", 5)  # a subzone (cores) is inside its package: not counted twice
    pkg1 = _zone(tmp_path, "intel-rapl:1", 999_000, max_uj=1_000_000)
    assert [z.path.name for z in energy.rapl_zones(tmp_path)] == ["intel-rapl:0", "intel-rapl:1"]
    monkeypatch.setattr(energy, "POWERCAP", tmp_path)
    monkeypatch.setattr(energy.EnergyMeter, "_zones", None)
    meter = energy.EnergyMeter(watts_per_core=10.0)
    (pkg0 / "energy_uj").write_text("3500000\n")  # +2.5 J
    (pkg1 / "energy_uj").write_text("500000\n")  # wrapped at 1 J: +0.501 J
    reading = meter.read()
    assert reading.source == "rapl" and reading.joules == pytest.approx(3.001)
    assert reading.attributes()["edgeprompt.energy.source"] == "rapl"


def test_without_rapl_energy_is_cpu_time_times_nominal_power(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(energy, "POWERCAP", tmp_path / "absent")
    monkeypatch.setattr(energy.EnergyMeter, "_zones", None)
    meter = energy.EnergyMeter(watts_per_core=7.5)
    sum(i * i for i in range(300_000))  # burn a little CPU
    r = meter.read()
    assert r.source == "estimate" and r.cpu_s > 0 and r.joules == pytest.approx(r.cpu_s * 7.5)
    assert energy.source_of_machine() == "estimate"


def test_powermetrics_sample_is_parsed() -> None:
    sample = """*** Sampled system activity (Wed May  1 10:00:00 2024 +0200) (502.31ms elapsed) ***
**** Processor usage ****
CPU Power: 2140 mW
GPU Power: 35 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 2175 mW
"""
    assert energy.parse_powermetrics(sample) == pytest.approx(2.175)
    assert energy.parse_powermetrics("CPU Power: 900 mW\n") == pytest.approx(0.9)
    assert energy.parse_powermetrics("nothing here") is None
