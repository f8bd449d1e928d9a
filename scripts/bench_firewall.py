"""Benchmark and measure the prompt firewall in one run (the issue's Done-when figures).

- stage 1 on the 30 % test side of ../shared/datasets/injection/dev.jsonl: recall, false-positive and
  hard-negative rates, BIPIA indirect injections reported separately, and the naive 10-phrase keyword
  baseline on the same rows; stage-1 latency p50/p95 on every dev input of at most 2,000 characters
- stage 3 on ../shared/datasets/pii/presidio_synth_sample.jsonl: recall per checksum/pattern type,
  redaction leaving nothing, near-miss false positives (tests/firewall/data/near_misses.jsonl), latency
- our own held-out cases (tests/firewall/data/, never trained or tuned on): the first 30 hard negatives,
  85 more in heldout_own.jsonl with 30 attacks phrased as ordinary imperatives, own_attacks.jsonl, and
  heldout_kinds.jsonl (160 rows in the kinds the hidden hand-written set missed or flagged, written blind)
- audit: append p50/p95 and verify of 10,000 entries
Run it on an idle machine: `scripts/bench_firewall [--json] [--models DIR]` (DIR/firewall/ holds a
rule pack and/or classifier to measure instead of the shipped ones, e.g. a previous version).

`--corpus` measures instead the full scanner on the training corpus (`edgeprompt.firewall.corpus`, at most
`--cap` rows of a source and label): recall and flag rate per source, per kind and context of our own
`edgeprompt-authors-2`, and the hard negatives (text about injection, harmless personas, documents with
imperatives, legitimate tool requests, NotInject, XSafety's benign questions, greshake). The corpus is what
operating points are picked on, so these are not held-out figures: they say what a change does to it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval_firewall import scanner_for  # noqa: E402

from edgeprompt.firewall import corpus, evaluate  # noqa: E402
from edgeprompt.firewall.output import OutputValidator  # noqa: E402

PII_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
DATA = ROOT / "tests" / "firewall" / "data"
SHIPPED = ROOT / "edgeprompt" / "shipped" / "firewall"
HARD_NEGATIVE_SOURCES = ("notinject", "xsafety", "greshake_llm_security")
HARD_NEGATIVE_KINDS = ("security_meta", "loaded_words", "persona_benign", "imperative_doc", "tool_request")
AUTHORS_2 = "edgeprompt-authors-2"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 3) if s else 0.0


def stage1(dev: Path, models: Path) -> dict[str, Any]:
    scanner = scanner_for(models)
    rows = evaluate.read_jsonl(dev)
    _, test = evaluate.split(rows)
    first = evaluate.read_jsonl(DATA / "hard_negatives.jsonl")
    heldout = evaluate.read_jsonl(DATA / "heldout_own.jsonl")
    heldout_benign = [r for r in heldout if r["label"] == 0]
    hard = first + heldout_benign
    own = evaluate.read_jsonl(DATA / "own_attacks.jsonl")
    lookalikes = [r for r in heldout if r["label"] == 1]
    kinds = evaluate.read_jsonl(DATA / "heldout_kinds.jsonl")  # the hidden set's kinds, written blind to the rules
    scanner.scan("warm up")
    verdicts = {id(r): scanner.scan(r["text"], evaluate.context_of(r)) for r in test + hard + own + lookalikes + kinds}
    flagged = lambda r: verdicts[id(r)].decision != "allow"  # noqa: E731
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in kinds:
        by_kind.setdefault(f"{'attack' if r['label'] else 'benign'}:{r['kind']}", []).append(r)
    ours = evaluate.report(test, flagged, hard)
    blocked_benign = sum(1 for r in test if r["label"] == 0 and verdicts[id(r)].decision == "block")
    baseline = evaluate.report(test, lambda r: evaluate.keyword_baseline(r["text"]), hard)
    lat = []
    for r in rows:
        if len(r["text"]) <= 2000:
            lat.append(scanner.scan(r["text"], evaluate.context_of(r)).latency_ms)
    base_lat = []
    for r in rows:
        if len(r["text"]) <= 2000:
            t0 = time.perf_counter()
            evaluate.keyword_baseline(r["text"])
            base_lat.append((time.perf_counter() - t0) * 1000)
    return {
        "split": {"test_rows": len(test), "seed": evaluate.SPLIT_SEED},
        "firewall": ours,
        "firewall_benign_blocked": blocked_benign,
        "keyword_baseline": baseline,
        "own_attacks_caught": evaluate.rate(own, flagged).as_dict(),
        "own_hard_negatives_first_30": evaluate.rate(first, flagged).as_dict(),
        "heldout_own_benign": evaluate.rate(heldout_benign, flagged).as_dict(),
        "heldout_own_benign_blocked": sum(verdicts[id(r)].decision == "block" for r in hard),
        "heldout_lookalike_attacks_caught": evaluate.rate(lookalikes, flagged).as_dict(),
        "heldout_kinds_attacks_caught": evaluate.rate([r for r in kinds if r["label"] == 1], flagged).as_dict(),
        "heldout_kinds_benign_flagged": evaluate.rate([r for r in kinds if r["label"] == 0], flagged).as_dict(),
        "heldout_kinds_by_kind": {k: evaluate.rate(g, flagged).as_dict() for k, g in sorted(by_kind.items())},
        "latency_ms": {
            "inputs": len(lat),
            "p50": pct(lat, 0.5),
            "p95": pct(lat, 0.95),
            "max": pct(lat, 1.0),
            "keyword_baseline_p50": pct(base_lat, 0.5),
        },
    }


def on_corpus(dev: Path, models: Path, cap: int) -> dict[str, Any]:
    """The full scanner on the corpus: per source, per kind/context of our own second set, hard negatives."""
    from collections import defaultdict

    scanner = scanner_for(models)
    rows = corpus.cap(corpus.load(dev if dev.is_file() else None, SHIPPED / "extra_train.jsonl", SHIPPED / "data"), cap)
    flagged = [scanner.scan(r.text, r.context).decision != "allow" for r in rows]
    groups: dict[str, list[bool]] = defaultdict(list)
    sources: dict[str, set[str]] = {"attacks": set(), "benign": set()}  # the sources that hold each label
    for r, f in zip(rows, flagged, strict=True):
        label = "attacks" if r.label else "benign"
        groups[f"source {r.source} {label}"].append(f)
        sources[label].add(r.source)
        if r.source == AUTHORS_2:
            groups[f"{AUTHORS_2} {r.kind}/{r.context} {label}"].append(f)
        if not r.label and (
            r.source in HARD_NEGATIVE_SOURCES or (r.source == AUTHORS_2 and r.kind in HARD_NEGATIVE_KINDS)
        ):
            groups["hard negatives"].append(f)
    out = {k: {"flagged": sum(v), "n": len(v), "rate": round(sum(v) / len(v), 4)} for k, v in sorted(groups.items())}
    for label, names in sources.items():
        rates = [out[f"source {src} {label}"]["rate"] for src in names]
        out[f"mean over sources {label}"] = {"rate": round(sum(rates) / len(rates), 4), "sources": len(rates)}
    return {"rows": len(rows), "cap": cap, "groups": out}


def stage3(pii: Path) -> dict[str, Any]:
    rows = evaluate.read_jsonl(pii)
    v = OutputValidator()
    v.check("warm up: +1 415 555 2671")
    hits = {t: 0 for t in PII_TYPES}
    total = {t: 0 for t in PII_TYPES}
    leftovers, lat = 0, []
    for r in rows:
        res = v.check(r["text"])
        lat.append(res.latency_ms)
        for s in r["spans"]:
            if s["entity_type"] not in PII_TYPES:
                continue
            total[s["entity_type"]] += 1
            if any(f.type == s["entity_type"] and f.start <= s["start"] and f.end >= s["end"] for f in res.findings):
                hits[s["entity_type"]] += 1
            if s["value"] in res.redacted_text:
                leftovers += 1
    near = evaluate.read_jsonl(DATA / "near_misses.jsonl")
    near_fp = sum(1 for r in near if v.check(r["text"]).findings)
    n = sum(total.values())
    return {
        "recall": round(sum(hits.values()) / n, 4),
        "spans": n,
        "per_type": {t: {"hits": hits[t], "n": total[t]} for t in PII_TYPES},
        "values_left_after_redaction": leftovers,
        "near_miss_fp": {"rate": round(near_fp / len(near), 4), "hits": near_fp, "n": len(near)},
        "latency_ms": {"texts": len(lat), "p50": pct(lat, 0.5), "p95": pct(lat, 0.95)},
    }


def audit() -> dict[str, Any]:
    from edgeprompt.store.audit import AuditLog
    from edgeprompt.store.migrate import open_db

    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        log = AuditLog(db)
        data = {
            "stage": "input",
            "decision": "allow",
            "score": 0.12,
            "categories": [],
            "matched_rules": [],
            "trace_id": "0" * 32,
            "text_sha256": "a" * 64,
            "text_chars": 120,
        }
        times = []
        for _ in range(1000):
            t0 = time.perf_counter()
            log.append("firewall.input", data)
            times.append((time.perf_counter() - t0) * 1000)
        log.append_many([("firewall.input", data)] * 9000)
        t0 = time.perf_counter()
        result = log.verify()
        verify_s = time.perf_counter() - t0
        db.close()
    return {
        "append_ms": {"p50": pct(times, 0.5), "p95": pct(times, 0.95)},
        "verify": {"entries": result.entries, "ok": result.ok, "seconds": round(verify_s, 3)},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dev", type=Path, default=evaluate.default_devset())
    ap.add_argument(
        "--pii", type=Path, default=evaluate.default_devset().parents[1] / "pii" / "presidio_synth_sample.jsonl"
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--corpus", action="store_true", help="measure the full scanner on the training corpus instead")
    ap.add_argument("--cap", type=int, default=300, help="with --corpus: at most this many rows of a source and label")
    ap.add_argument(
        "--models",
        type=Path,
        default=Path("/nonexistent-edgeprompt-home/models"),
        help="a models folder whose firewall/ overrides the shipped rules.toml / classifier",
    )
    args = ap.parse_args()
    if args.corpus:
        found = on_corpus(args.dev, args.models, args.cap)
        if args.json:
            print(json.dumps(found, indent=2))
            return 0
        for k, v in found["groups"].items():
            print(f"{k:<64} {v['rate']:.4f}" + (f" ({v['flagged']}/{v['n']})" if "n" in v else ""))
        return 0
    for p in (args.dev, args.pii):
        if not p.is_file():
            print(f"bench_firewall: {p} not found", file=sys.stderr)
            return 2
    report = {
        "cpus": os.cpu_count(),
        "stage1": stage1(args.dev, args.models),
        "stage3": stage3(args.pii),
        "audit": audit(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    s1, s3, au = report["stage1"], report["stage3"], report["audit"]
    fw, kw = s1["firewall"], s1["keyword_baseline"]
    for key in (
        "direct_attack_recall",
        "benign_fpr",
        "hard_negative_flag_rate",
        "own_hard_negative_flag_rate",
        "bipia_injected_recall",
        "bipia_clean_fpr",
    ):
        print(
            f"{key:<30} firewall {fw[key]['rate']:.4f} ({fw[key]['hits']}/{fw[key]['n']})   "
            f"keyword baseline {kw[key]['rate']:.4f}"
        )
    print(
        f"benign texts blocked            {s1['firewall_benign_blocked']} (dev); "
        f"{s1['heldout_own_benign_blocked']} (our hard negatives)"
    )
    for key in (
        "own_hard_negatives_first_30",
        "heldout_own_benign",
        "heldout_lookalike_attacks_caught",
        "own_attacks_caught",
        "heldout_kinds_attacks_caught",
        "heldout_kinds_benign_flagged",
    ):
        print(f"{key:<34} {s1[key]['rate']:.4f} ({s1[key]['hits']}/{s1[key]['n']})")
    print("  " + ", ".join(f"{k} {v['hits']}/{v['n']}" for k, v in s1["heldout_kinds_by_kind"].items()))
    print(
        f"stage 1 latency                 p50 {s1['latency_ms']['p50']} ms  p95 {s1['latency_ms']['p95']} ms "
        f"({s1['latency_ms']['inputs']} inputs <= 2000 chars)"
    )
    print(
        f"PII recall                      {s3['recall']:.4f} of {s3['spans']} spans; left after redaction "
        f"{s3['values_left_after_redaction']}; near-miss FP {s3['near_miss_fp']['rate']:.4f}"
    )
    print(f"output scan latency             p50 {s3['latency_ms']['p50']} ms  p95 {s3['latency_ms']['p95']} ms")
    print(
        f"audit append                    p50 {au['append_ms']['p50']} ms  p95 {au['append_ms']['p95']} ms; "
        f"verify {au['verify']['entries']} entries {au['verify']['seconds']} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
