"""The crash harness's short version: at least 50 SIGKILLs at random moments during writes of every kind
whose command is quick enough for the suite, with integrity, audit-chain and half-state checks after each
(`scripts/crash_test` without --kinds runs all ten kinds; aim 1,000 kills there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.robustness
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crash_test.py"
# cache seeding (MiniLM on each query) and re-indexing are the slow kinds: the long run covers them
QUICK_KINDS = "index,prompts,feedback,sessions,audit,ledger,pack-import,config"


@pytest.mark.slow  # fifty kill -9 cycles of a subprocess: minutes, so the fast lane leaves it to CI
def test_fifty_kills_leave_a_consistent_home(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--kills",
            "50",
            "--kinds",
            QUICK_KINDS,
            "--json",
            "--work",
            str(tmp_path / "work"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = json.loads(done.stdout)
    assert report["kills"] >= 50
    assert report["failures"] == 0, {
        k: v["first_failures"] for k, v in report["per_kind"].items() if v["failures"]
    } or report["final"]
    assert set(report["per_kind"]) == set(QUICK_KINDS.split(","))
    assert all(v["kills"] > 0 for v in report["per_kind"].values())
    assert done.returncode == 0
