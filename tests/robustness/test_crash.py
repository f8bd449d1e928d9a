"""The crash harness's short version: at least 50 SIGKILLs at random moments during writes of all ten kinds
(indexing, re-indexing, prompts, cache seed/clear, feedback, sessions, audit, privacy ledger, pack import,
config), with integrity, audit-chain and half-state checks after each (`scripts/crash_test` is the long run;
aim 1,000 kills there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.robustness
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crash_test.py"
KINDS = {"index", "reindex", "prompts", "cache", "feedback", "sessions", "audit", "ledger", "pack-import", "config"}


@pytest.mark.slow  # fifty kill -9 cycles of a subprocess: minutes, so the fast lane leaves it to CI
# ~70 CPU-seconds, but 11.5 minutes of wall time were seen on a shared 2-core box at load ~20: past the
# suite's 600 s default, which is for hangs, not for a busy machine
@pytest.mark.timeout(1800)
def test_fifty_kills_leave_a_consistent_home(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--kills",
            "50",
            "--json",
            "--work",
            str(tmp_path / "work"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    report = json.loads(done.stdout)
    assert report["kills"] >= 50
    assert report["failures"] == 0, {
        k: v["first_failures"] for k, v in report["per_kind"].items() if v["failures"]
    } or report["final"]
    assert set(report["per_kind"]) == KINDS
    assert all(v["kills"] > 0 for v in report["per_kind"].values()), report["per_kind"]
    assert report["complete"] and report["final"] == "ok"
    assert done.returncode == 0
