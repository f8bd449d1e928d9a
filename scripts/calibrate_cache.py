"""Pick the semantic-cache threshold and measure it; writes models/cache/semantic.toml.

Tune: the pairs on the "tune" side of `edgeprompt.cache.calibrate.side` (a fixed hash split) choose the
lowest cosine threshold at which the gated precision reaches --target-precision; the threshold is then
raised, if needed, until the near-miss set's false-hit rate is at most --max-near-miss-false-hits.
Report: the held-out side (never used to choose), the near-miss set, and the lexical baselines (TF-IDF
cosine, token Jaccard) on the same held-out pairs. The dataset is evaluation data (QQP terms): it is
only read, never copied into the repo, and nothing is trained on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.cache import calibrate  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "semantic_cache" / "pairs.jsonl"
NEAR_MISSES = ROOT / "tests" / "cache" / "data" / "near_misses.jsonl"
OUT = ROOT / "models" / "cache" / "semantic.toml"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def embedder(home: str | None, vectors_cache: Path | None):  # type: ignore[no-untyped-def]
    from edgeprompt.runtime import Runtime

    rt = Runtime.open(home)
    emb = rt.embedder()

    def embed(texts: list[str]) -> np.ndarray:
        key = hashlib.sha256(("\x00".join(texts) + emb.model_hash).encode()).hexdigest()[:16]
        if vectors_cache is not None and (f := vectors_cache / f"vectors-{key}.npy").exists():
            return np.load(f)
        t0 = time.perf_counter()
        print(f"embedding {len(texts)} questions…", file=sys.stderr, flush=True)
        vecs = emb.embed_batch(texts)
        print(f"  {len(texts) / (time.perf_counter() - t0):.0f} questions/s", file=sys.stderr)
        if vectors_cache is not None:
            vectors_cache.mkdir(parents=True, exist_ok=True)
            np.save(vectors_cache / f"vectors-{key}.npy", vecs)
        return vecs

    return embed


def near_miss_report(s: calibrate.Scored, threshold: float, rows: list[dict]) -> dict:
    cats: dict[str, dict[str, int]] = {}
    for i, r in enumerate(rows):
        c = cats.setdefault(r["category"], {"pairs": 0, "hits": 0})
        c["pairs"] += 1
        c["hits"] += int(s.similarity[i] >= threshold and s.gated[i])
    neg = [c for k, c in cats.items() if k != "paraphrase"]
    n, hits = sum(c["pairs"] for c in neg), sum(c["hits"] for c in neg)
    para = cats.get("paraphrase", {"pairs": 0, "hits": 0})
    return {"near_misses": n, "false_hits": hits, "false_hit_rate": round(hits / max(1, n), 4),
            "paraphrases": para["pairs"], "paraphrase_hits": para["hits"],
            "paraphrase_recall": round(para["hits"] / max(1, para["pairs"]), 4), "by_category": cats}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=Path, default=DATASET)
    ap.add_argument("--target-precision", type=float, default=0.95)
    ap.add_argument("--max-near-miss-false-hits", type=float, default=0.01)
    ap.add_argument("--home", default=None, help="data home whose MiniLM export to use")
    ap.add_argument("--vectors-cache", type=Path, default=None, help="keep question vectors here between runs")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = ap.parse_args()
    if not args.pairs.exists():
        print(f"calibrate_cache: {args.pairs} not found (the shared datasets are not here)", file=sys.stderr)
        return 2
    pairs, near = read(args.pairs), read(NEAR_MISSES)
    embed = embedder(args.home, args.vectors_cache)
    scored = calibrate.score(pairs + near, embed)
    n = len(pairs)

    def subset(idx: list[int]) -> calibrate.Scored:
        return calibrate.Scored(scored.similarity[idx], scored.gated[idx], scored.labels[idx])

    tune = subset([i for i, p in enumerate(pairs) if calibrate.side(p) == "tune"])
    held_idx = [i for i, p in enumerate(pairs) if calibrate.side(p) == "held-out"]
    held = subset(held_idx)
    nm = subset(list(range(n, n + len(near))))
    t = round(calibrate.choose(tune, args.target_precision), 4)
    while near_miss_report(nm, t, near)["false_hit_rate"] > args.max_near_miss_false_hits and t < 1.0:
        t = round(t + 0.001, 4)
    r50 = round(calibrate.choose_recall(tune, 0.5), 4)
    lexical = calibrate.lexical_scores([pairs[i] for i in held_idx])
    gated_scores = np.where(held.gated, held.similarity, -1.0)
    report = {
        "threshold": t,
        "target_precision": args.target_precision,
        "tune": calibrate.at(tune, t),
        "held_out": calibrate.at(held, t),
        "held_out_without_gate": calibrate.at(held, t, use_gate=False),
        "held_out_at_recall_0_5_threshold": calibrate.at(held, r50),
        "near_miss_set": near_miss_report(nm, t, near),
        "near_miss_set_without_gate": near_miss_report(
            calibrate.Scored(nm.similarity, np.ones_like(nm.gated), nm.labels), t, near),
        "ranking_held_out": {
            "minilm_cosine": calibrate.ranking_report(held.similarity, held.labels),
            "minilm_cosine_gated": calibrate.ranking_report(gated_scores, held.labels),
            **{k: calibrate.ranking_report(v, held.labels) for k, v in lexical.items()},
        },
        "dataset": {"path": str(args.pairs.name), "pairs": n, "tune": len(tune.labels), "held_out": len(held_idx),
                    "sha256": hashlib.sha256(args.pairs.read_bytes()).hexdigest()},
    }
    print(json.dumps(report, indent=2))
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(toml(report), encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


def toml(r: dict) -> str:
    h, nm = r["held_out"], r["near_miss_set"]
    lines = [
        "# Semantic-cache threshold, written by scripts/calibrate_cache (do not edit by hand; re-run it).",
        "# Chosen on the tune half of the QQP-derived pairs (shared/datasets/semantic_cache, evaluation only) as the",
        f"# lowest cosine with gated precision >= {r['target_precision']}, then checked on the near-miss set.",
        f"threshold = {r['threshold']}",
        "",
        "[measured]",
        f"held_out_pairs = {h['pairs']}",
        f"held_out_precision = {h['precision']}",
        f"held_out_recall = {h['recall']}",
        f"held_out_false_hit_rate = {h['false_hit_rate']}",
        f"held_out_precision_without_gate = {r['held_out_without_gate']['precision']}",
        f"held_out_recall_without_gate = {r['held_out_without_gate']['recall']}",
        f"near_misses = {nm['near_misses']}",
        f"near_miss_false_hits = {nm['false_hits']}",
        f"near_miss_false_hit_rate = {nm['false_hit_rate']}",
        f"paraphrase_recall = {nm['paraphrase_recall']}",
        f"dataset_sha256 = \"{r['dataset']['sha256']}\"",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
