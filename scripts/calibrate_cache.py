"""Pick the semantic cache's operating point and measure its three stages; writes
edgeprompt/shipped/cache/verifier/operating_point.toml.

Every value is picked on the `calib` split of the verifier's pairs (`edgeprompt.cache.pairset`:
hand-written paraphrase groups and near misses generated from them), for --target-precision:
vector-only, the lowest cosine whose precision reaches it; guards (cosine + content gate), the same with
the gate on; verifier (cosine floor + content gate + the pair verifier's probability; the verifier only
vetoes), the floor and probability with the highest calib recall: the cache's threshold whenever the
verifier is on. A stage that reaches the target at no threshold reports 1.0 (serve nothing).
edgeprompt/shipped/cache/semantic.toml (the threshold with the verifier off) is not written here.
Only measured, never used to choose: the `test` split of those pairs, the
repo's near-miss set (tests/cache/data/near_misses.jsonl) and, when present, the held-out half of the
QQP-derived pairs in shared/datasets/semantic_cache (QQP terms: evaluation only; read, never copied, never
trained or tuned on).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.cache import calibrate, pairset, verifier  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "semantic_cache" / "pairs.jsonl"
NEAR_MISSES = ROOT / "tests" / "cache" / "data" / "near_misses.jsonl"
PARAPHRASES = ROOT / "edgeprompt" / "shipped" / "cache" / "verifier" / "paraphrases.txt"
OUT = ROOT / "edgeprompt" / "shipped" / "cache" / "verifier" / "operating_point.toml"
STAGES = ("vector", "guards", "verifier")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def embedder(home: str | None, vectors_cache: Path | None):  # type: ignore[no-untyped-def]
    """embed(texts) -> vectors; with `vectors_cache`, each question's vector is kept there (keyed by the
    embedder's hash) so a rerun embeds only questions it has not seen."""
    from edgeprompt.app import Runtime

    rt = Runtime.open(home)
    emb = rt.embedder()
    store = None if vectors_cache is None else vectors_cache / f"vectors-{emb.model_hash[:16]}.npz"
    known: dict[str, np.ndarray] = {}
    if store is not None and store.exists():
        with np.load(store) as z:
            known = dict(zip(z["texts"].tolist(), z["vecs"], strict=True))

    def embed(texts: list[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in known})
        if todo:
            t0 = time.perf_counter()
            print(f"embedding {len(todo)} questions…", file=sys.stderr, flush=True)
            known.update(zip(todo, emb.embed_batch(todo), strict=True))
            print(f"  {len(todo) / (time.perf_counter() - t0):.0f} questions/s", file=sys.stderr)
            if store is not None:
                store.parent.mkdir(parents=True, exist_ok=True)
                names = sorted(known)
                np.savez(store, texts=np.array(names), vecs=np.stack([known[t] for t in names]))
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)

    return embed


def verify_with(v: verifier.Verifier):  # type: ignore[no-untyped-def]
    def verify(a: np.ndarray, b: np.ndarray, pairs: Sequence[dict]) -> np.ndarray:
        rows = np.stack([verifier.features(x, y, p["q1"], p["q2"]) for x, y, p in zip(a, b, pairs, strict=True)])
        return v.probabilities(rows)

    return verify


def stage_at(s: calibrate.ScoredPairs, stage: str, point: dict[str, float]) -> dict[str, float]:
    if stage == "verifier":
        return calibrate.at(s, point["cosine_floor"], min_probability=point["min_probability"])
    return calibrate.at(s, point["threshold"], use_gate=stage == "guards")


def coverage_floor(train: list[pairset.Pair], embed) -> float:  # type: ignore[no-untyped-def]
    """The 5th percentile of the cosine of the verifier's training duplicates: below it the verifier would
    judge pairs unlike any it learned from, so no lower cosine floor is considered."""
    texts = sorted({p.q1 for p in train} | {p.q2 for p in train})
    vec = dict(zip(texts, embed(texts), strict=True))
    return float(np.percentile([vec[p.q1] @ vec[p.q2] for p in train if p.duplicate], 5))


def pick(s: calibrate.ScoredPairs, stage: str, target: float, floors: Sequence[float]) -> dict[str, float]:
    if stage == "verifier":
        floor, p = calibrate.choose_point(s, target, floors=floors)
        return {"cosine_floor": floor, "min_probability": round(p, 4)}
    return {"threshold": calibrate.choose(s, target, use_gate=stage == "guards")}


def near_miss_report(s: calibrate.ScoredPairs, stage: str, point: dict[str, float], rows: list[dict]) -> dict:
    cats: dict[str, dict[str, int]] = {}
    for i, r in enumerate(rows):
        c = cats.setdefault(r["category"], {"pairs": 0, "hits": 0})
        c["pairs"] += 1
        c["hits"] += int(stage_at(s.subset([i]), stage, point)["hits"])
    neg = [c for k, c in cats.items() if k != "paraphrase"]
    n, hits = sum(c["pairs"] for c in neg), sum(c["hits"] for c in neg)
    para = cats.get("paraphrase", {"pairs": 0, "hits": 0})
    return {
        "near_misses": n,
        "false_hits": hits,
        "false_hit_rate": round(hits / max(1, n), 4),
        "paraphrases": para["pairs"],
        "paraphrase_hits": para["hits"],
        "paraphrase_recall": round(para["hits"] / max(1, para["pairs"]), 4),
        "by_category": cats,
    }


def recall_by_kind(s: calibrate.ScoredPairs, rows: list[dict], points: dict) -> dict:
    """Hits per kind of pair at each stage's point: how much recall is trivial rewording ("light")."""
    out: dict[str, dict[str, int]] = {}
    for i, r in enumerate(rows):
        c = out.setdefault(r["kind"], {"pairs": 0, **{stage: 0 for stage in STAGES}})
        c["pairs"] += 1
        for stage in STAGES:
            c[stage] += int(stage_at(s.subset([i]), stage, points[stage])["hits"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=Path, default=DATASET, help="QQP-derived pairs, measured only (optional)")
    ap.add_argument("--target-precision", type=float, default=0.97)
    ap.add_argument("--home", default=None, help="data home whose MiniLM export to use")
    ap.add_argument("--vectors-cache", type=Path, default=None, help="keep question vectors here between runs")
    ap.add_argument(
        "--verifier", type=Path, default=OUT.parent, help="folder of the verifier to measure (default: the shipped one)"
    )
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = ap.parse_args()
    v = verifier.Verifier.load(args.verifier)
    embed = embedder(args.home, args.vectors_cache)
    built = pairset.build(pairset.groups(PARAPHRASES.read_text("utf-8")), embed)
    own = {split: [asdict(p) for p in built if p.split == split] for split in ("calib", "test")}
    near = read(NEAR_MISSES)
    qqp = [p for p in read(args.pairs) if calibrate.side(p) == "held-out"] if args.pairs.exists() else []
    sets = {"calib": own["calib"], "test": own["test"], "near_miss_set": near, "qqp_held_out": qqp}
    rows = [r for rs in sets.values() for r in rs]
    scored = calibrate.score(rows, embed, verify_with(v))
    parts, at = {}, 0
    for name, rs in sets.items():
        parts[name] = scored.subset(list(range(at, at + len(rs))))
        at += len(rs)
    min_floor = coverage_floor([p for p in built if p.split == "train"], embed)
    floors = [f for f in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95) if f >= min_floor]
    points = {stage: pick(parts["calib"], stage, args.target_precision, floors) for stage in STAGES}
    points["verifier"]["coverage_floor"] = round(min_floor, 4)
    # what the verifier adds at its own floor: the earlier stages at the same cosine
    same = {"threshold": points["verifier"]["cosine_floor"]}
    report: dict = {"target_precision": args.target_precision, "picked_on": "calib", "points": points}
    for name in ("calib", "test", "qqp_held_out"):
        if len(parts[name].labels):
            report[name] = {stage: stage_at(parts[name], stage, points[stage]) for stage in STAGES}
            report[name]["at_verifier_floor"] = {
                stage: stage_at(parts[name], stage, same) for stage in ("vector", "guards")
            }
    report["test_recall_by_kind"] = recall_by_kind(parts["test"], own["test"], points)
    report["near_miss_set"] = {
        stage: near_miss_report(parts["near_miss_set"], stage, points[stage], near) for stage in STAGES
    }
    report["curves_test"] = {stage: calibrate.curve(parts["test"], stage) for stage in STAGES}
    report["ranking_test"] = {
        "cosine": calibrate.ranking_report(parts["test"].similarity, parts["test"].labels),
        "verifier": calibrate.ranking_report(parts["test"].probability, parts["test"].labels),
    }
    if qqp:
        q = parts["qqp_held_out"]
        report["ranking_qqp_held_out"] = {
            "cosine": calibrate.ranking_report(q.similarity, q.labels),
            "verifier": calibrate.ranking_report(q.probability, q.labels),
        }
        report["qqp"] = {
            "path": args.pairs.name,
            "held_out": len(qqp),
            "sha256": hashlib.sha256(args.pairs.read_bytes()).hexdigest(),
        }
    print(json.dumps(report, indent=2))
    if args.write:
        OUT.write_text(toml(report), encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


def toml(r: dict) -> str:
    pv, t, nm = r["points"]["verifier"], r["test"], r["near_miss_set"]
    lines = [
        "# The pair verifier's operating point, written by scripts/calibrate_cache (do not edit by hand; re-run it).",
        f"# The cosine floor and probability with the highest recall at precision >= {r['target_precision']} on the",
        "# calib split of the verifier's pairs; the rest is only measured (test split, near-miss set, QQP: evaluation",
        "# only).",
        f"cosine_floor = {pv['cosine_floor']}",
        f"min_probability = {pv['min_probability']}",
        "",
        "[measured]",
        f"test_pairs = {t['verifier']['pairs']}",
        f"test_duplicates = {t['verifier']['duplicates']}",
    ]
    for stage in STAGES:
        at_stage = r["points"][stage].get("threshold", pv["cosine_floor"])
        lines += [
            f"{stage}_threshold = {at_stage}",
            f"calib_{stage}_precision = {r['calib'][stage]['precision']}",
            f"calib_{stage}_recall = {r['calib'][stage]['recall']}",
            f"test_{stage}_precision = {t[stage]['precision']}",
            f"test_{stage}_recall = {t[stage]['recall']}",
            f"near_miss_{stage}_false_hits = {nm[stage]['false_hits']}",
            f"near_miss_{stage}_paraphrase_recall = {nm[stage]['paraphrase_recall']}",
        ]
    for stage in ("vector", "guards"):
        lines += [
            f"test_{stage}_precision_at_floor = {t['at_verifier_floor'][stage]['precision']}",
            f"test_{stage}_recall_at_floor = {t['at_verifier_floor'][stage]['recall']}",
        ]
    if "qqp_held_out" in r:
        q = r["qqp_held_out"]
        lines += [f"qqp_held_out_pairs = {q['verifier']['pairs']}"]
        for stage in STAGES:
            lines += [
                f"qqp_held_out_{stage}_precision = {q[stage]['precision']}",
                f"qqp_held_out_{stage}_recall = {q[stage]['recall']}",
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
