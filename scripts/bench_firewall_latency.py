"""Stage-1 latency of two classifiers in the same run: the shipped one and a candidate (`--models DIR`).

Inputs: the dev set's texts of at most 2,000 characters (a deterministic sample of --n), each scanned in its
own context by both scanners, interleaved so that load on the machine hits both alike. Reported: p50 / p95 /
max per scanner and the candidate's p50 and p95 as ratios of the shipped one's.

    scripts/bench_firewall_latency --models DIR [--n 300] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_firewall import pct  # noqa: E402
from eval_firewall import scanner_for  # noqa: E402

from edgeprompt.firewall import evaluate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=evaluate.default_devset())
    ap.add_argument("--models", type=Path, required=True, help="a models folder whose firewall/ holds the candidate")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.dev.is_file():
        print(f"bench_firewall_latency: {args.dev} not found", file=sys.stderr)
        return 2
    rows = [r for r in evaluate.read_jsonl(args.dev) if len(r["text"]) <= 2000]
    rows = sorted(rows, key=lambda r: hashlib.sha256(r["text"].encode()).hexdigest())[: args.n]
    scanners = {
        "shipped": scanner_for(Path("/nonexistent-edgeprompt-home/models")),
        "candidate": scanner_for(args.models),
    }
    lat: dict[str, list[float]] = {k: [] for k in scanners}
    for s in scanners.values():
        s.scan("warm up")
    for r in rows:
        for name, s in scanners.items():
            lat[name].append(s.scan(r["text"], evaluate.context_of(r)).latency_ms)
    report = {
        "cpus": os.cpu_count(),
        "inputs": len(rows),
        **{k: {"p50": pct(v, 0.5), "p95": pct(v, 0.95), "max": pct(v, 1.0)} for k, v in lat.items()},
    }
    report["ratio_p50"] = round(report["candidate"]["p50"] / max(report["shipped"]["p50"], 1e-9), 2)
    report["ratio_p95"] = round(report["candidate"]["p95"] / max(report["shipped"]["p95"], 1e-9), 2)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
