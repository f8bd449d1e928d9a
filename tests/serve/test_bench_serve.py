"""A small, bounded run of scripts/bench_serve (a real `edgeprompt serve` process, concurrent streaming clients,
the same requests in-process): it completes without errors and every answer's trace is saved. No timings
are asserted; the numbers are the script's to report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # scripts/bench_serve: a server process and concurrent clients
def test_bench_serve_small_run() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_serve.py"),
            "--model",
            "echo",
            "--clients",
            "4",
            "--requests",
            "12",
            "--max-tokens",
            "8",
            "--timeout-s",
            "120",
            "--queue-size",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    served, local = report["serve"], report["inprocess"]
    # a queue of 2 behind 4 clients: 429s may happen (designed back-pressure, retried); nothing else may fail
    assert served["errors"] == 0 and served["statuses"]["200"] == 12
    assert served["requests"] == 12 and served["traces_saved"] == 12
    assert local["requests"] == 12 and served["completion_tokens"] == local["completion_tokens"] > 0
    assert report["throughput_ratio"] > 0
