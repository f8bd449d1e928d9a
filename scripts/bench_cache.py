"""Benchmark the answer cache's lookups (see edgeprompt.cache.bench.semantic_bench); prints one JSON object.

Stored questions: the unique questions of ../shared/datasets/semantic_cache/pairs.jsonl when present (read
only, for timing), topped up with generated ones to --entries; otherwise all generated. Asked: --queries
questions that are not stored (so every lookup embeds its question), half of them rewordings of stored ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.cache.bench import semantic_bench  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "semantic_cache" / "pairs.jsonl"
TOPICS = ("rent", "passport", "tax return", "wifi", "lease", "insurance", "vacation", "printer", "budget", "invoice")
FORMS = (
    "How do I renew my {t} in {n}?",
    "What is the deadline for the {t} number {n}?",
    "Where can I find the {t} for room {n}?",
    "Who handles the {t} of building {n}?",
)


def questions(n: int) -> list[str]:
    qs: list[str] = []
    if DATASET.exists():
        rows = [json.loads(x) for x in DATASET.read_text(encoding="utf-8").splitlines() if x.strip()]
        qs = sorted({r[k] for r in rows for k in ("q1", "q2")})
    i = 0
    while len(qs) < n:
        qs.append(FORMS[i % len(FORMS)].format(t=TOPICS[i // len(FORMS) % len(TOPICS)], n=i))
        i += 1
    return qs[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--home", default=None, help="a data home whose MiniLM export to reuse (else exported once)")
    ap.add_argument("--vectors-cache", type=Path, default=None, help="keep stored questions' vectors between runs")
    args = ap.parse_args()
    from edgeprompt.app import Runtime
    from edgeprompt.paths import resolve_home

    stored = questions(args.entries)
    rng = random.Random(0)
    picks = rng.sample(stored, args.queries)
    asked = [
        f"Could you tell me: {q}" if i % 2 else f"{q.rstrip('?')} (asking for a friend)?" for i, q in enumerate(picks)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        src = resolve_home(args.home) / "cache" / "embed"
        if src.exists():
            (Path(tmp) / "cache").mkdir()
            os.symlink(src, Path(tmp) / "cache" / "embed")
        rt = Runtime.open(tmp)
        vectors = None
        if args.vectors_cache is not None:
            key = hashlib.sha256("\x00".join(stored).encode()).hexdigest()[:16]
            f = args.vectors_cache / f"bench-{key}.npy"
            if f.exists():
                vectors = np.load(f)
            else:
                vectors = rt.embedder().embed_batch(stored)
                args.vectors_cache.mkdir(parents=True, exist_ok=True)
                np.save(f, vectors)
        report = semantic_bench(rt.cache(), rt.db, rt.embedder, stored, asked, vectors=vectors)
        rt.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
