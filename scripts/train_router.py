"""Train the router's classifier head and export it to edgeprompt/shipped/router/classifier.{onnx,json}.

Data: the `train` split of edgeprompt/shipped/router/routing_set.jsonl plus the phrasing sources in
edgeprompt/shipped/router/phrasings/ (one leave-out fold per file, all written for this project; see DATA.md
there), or the folders given to --phrasings. Features are the MiniLM embeddings of
`routing.router_text(text)`, exactly what the router computes at run time. The weight decay and the
rule-combination operating point (fit threshold, rule boost, and the unsure band below which a specialist
falls back to `general`) are chosen on out-of-fold predictions where each fold leaves one phrasing source
out (the routing set's train split is one source). Only measured, once, after the final head is trained on
everything above: the routing set's `test` split and the held-out phrasing files (heldout_phrasings.jsonl,
heldout_phrasings_2.jsonl … heldout_phrasings_5.jsonl; written separately from the training phrasings).
Their misses are printed only with --show-errors: a set whose errors were read while writing training
phrasings is no longer held out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.routing.evaluation import load_set, score  # noqa: E402
from edgeprompt.routing.head import export_head, torch_head  # noqa: E402
from edgeprompt.routing.router import pick_tag, router_text  # noqa: E402
from edgeprompt.routing.rules import TAGS, keyword_hits  # noqa: E402

LABELS = list(TAGS)


def torch_threads() -> None:
    import torch

    torch.set_num_threads(1)  # the machine's two cores are shared


def fit(x: np.ndarray, y: np.ndarray, weight_decay: float, hidden: int, seed: int, epochs: int = 300) -> Any:
    import torch

    torch.manual_seed(seed)
    model = torch_head(len(LABELS), hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=weight_decay)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):  # full batch: a few hundred rows
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()
    return model.eval()


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(x)), dim=-1).numpy()


def folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Stratified fold ids: each label's rows are shuffled and dealt round-robin."""
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=np.int64)
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return [np.flatnonzero(fold == f) for f in range(k)]


def route_all(probs: np.ndarray, fired: list[set[str]], fit_t: float, boost: float, unsure: float = 0.0) -> list[str]:
    return [
        pick_tag(dict(zip(LABELS, p.tolist(), strict=True)), f, fit_t, boost, unsure)[0]
        for p, f in zip(probs, fired, strict=True)
    ]


def source_folds(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Leave-one-phrasing-source-out: each source's rows are one fold."""
    sources = [r.get("source", "routing_set") for r in rows]
    return {s: np.flatnonzero(np.array(sources) == s) for s in dict.fromkeys(sources)}


def tune(
    x: np.ndarray, y: np.ndarray, rows: list[dict[str, Any]], fired: list[set[str]], hidden: int, seed: int
) -> dict[str, Any]:
    """Grid over weight decay, fit threshold, rule boost and unsure band on leave-one-source-out
    probabilities; returns the best setting with its per-source accuracy."""
    best: dict[str, Any] = {"accuracy": -1.0}
    by_source = source_folds(rows)
    for wd in (1e-4, 1e-3, 1e-2, 1e-1):
        oof = np.zeros((len(y), len(LABELS)), dtype=np.float32)
        for held in by_source.values():
            keep = np.setdiff1d(np.arange(len(y)), held)
            oof[held] = predict(fit(x[keep], y[keep], wd, hidden, seed), x[held])
        head_acc = float((oof.argmax(1) == y).mean())
        for fit_t in np.arange(0.30, 0.91, 0.05):
            for boost in np.arange(0.0, 0.61, 0.05):
                for unsure in (0.0, 0.3, 0.4, 0.5, 0.6):
                    routed = route_all(oof, fired, fit_t, boost, unsure)
                    acc = score(rows, routed).accuracy
                    # ties: prefer the smaller boost (lean on the learned head), the higher threshold, no band
                    key = (acc, -boost, fit_t, -unsure)
                    if key > (
                        best["accuracy"],
                        -best.get("rule_boost", 0),
                        best.get("fit_threshold", 0),
                        -best.get("unsure_below", 0),
                    ):
                        per = {
                            s: round(score([rows[i] for i in idx], [routed[i] for i in idx]).accuracy, 4)
                            for s, idx in by_source.items()
                        }
                        best = {
                            "accuracy": acc,
                            "weight_decay": wd,
                            "fit_threshold": round(float(fit_t), 2),
                            "rule_boost": round(float(boost), 2),
                            "unsure_below": unsure,
                            "head_accuracy": head_acc,
                            "by_source": per,
                        }
    return best


def rel(path: Path) -> str:
    """The path as the artifact records it: relative to the repository when inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def phrasings(folder: Path) -> list[dict[str, Any]]:
    return [r for f in sorted(folder.glob("*.jsonl")) for r in load_set(f)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "edgeprompt/shipped/router/routing_set.jsonl")
    ap.add_argument(
        "--phrasings",
        type=Path,
        nargs="+",
        default=[ROOT / "edgeprompt/shipped/router/phrasings"],
        help="folders of phrasing sources (each *.jsonl one leave-out fold); phrasings_candidates/ holds "
        "sources written but not in the shipped head",
    )
    ap.add_argument(
        "--heldout",
        type=Path,
        nargs="+",
        default=[ROOT / f"edgeprompt/shipped/router/heldout_phrasings{s}.jsonl" for s in ("", "_2", "_3", "_4", "_5")],
        help="held-out phrasing files, each measured once after training (never tuned on)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "edgeprompt/shipped/router")
    ap.add_argument("--hidden", type=int, default=0, help="0 = linear head; >0 = one hidden layer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--show-errors", action="store_true", help="print the held-out misses (looking at them spends the set)"
    )
    args = ap.parse_args()

    from edgeprompt.embed import Embedder

    t0 = time.time()
    torch_threads()
    train = load_set(args.data, "train") + [r for folder in args.phrasings for r in phrasings(folder)]
    test = load_set(args.data, "test")
    heldouts = {f.stem: load_set(f) for f in args.heldout}
    embedder = Embedder.load(threads=1)
    xtr = embedder.embed_batch([router_text(r["text"]) for r in train])
    xte = embedder.embed_batch([router_text(r["text"]) for r in test])
    ytr = np.array([LABELS.index(r["label"]) for r in train], dtype=np.int64)
    fired_tr = [{h.tag for h in keyword_hits(r["text"])} for r in train]
    fired_te = [{h.tag for h in keyword_hits(r["text"])} for r in test]

    best = tune(xtr, ytr, train, fired_tr, args.hidden, args.seed)
    print(f"leave-one-source-out on train ({len(train)} rows): {json.dumps(best)}", file=sys.stderr)
    model = fit(xtr, ytr, best["weight_decay"], args.hidden, args.seed)
    pte = predict(model, xte)
    head_report = score(test, [LABELS[i] for i in pte.argmax(1)])
    router_report = score(
        test, route_all(pte, fired_te, best["fit_threshold"], best["rule_boost"], best["unsure_below"])
    )
    held_reports = {}
    for name, rows in heldouts.items():
        pho = predict(model, embedder.embed_batch([router_text(r["text"]) for r in rows]))
        fired_ho = [{h.tag for h in keyword_hits(r["text"])} for r in rows]
        held_reports[name] = score(
            rows, route_all(pho, fired_ho, best["fit_threshold"], best["rule_boost"], best["unsure_below"])
        )
    extra = {
        "arch": "linear" if args.hidden <= 0 else f"mlp-{args.hidden}",
        "hidden": max(args.hidden, 0),
        "embedder": "all-MiniLM-L6-v2 (mean pooled, L2-normalised)",
        "embedder_hash": embedder.model_hash,
        "router_text_max_chars": 320,
        "fit_threshold": best["fit_threshold"],
        "rule_boost": best["rule_boost"],
        "unsure_below": best["unsure_below"],
        "training": {
            "data": "edgeprompt/shipped/router/routing_set.jsonl (train) + "
            + " + ".join(f"{rel(folder)}/*.jsonl" for folder in args.phrasings),
            "split": "train",
            "rows": len(train),
            "weight_decay": best["weight_decay"],
            "seed": args.seed,
            "cv": "leave-one-phrasing-source-out",
            "cv_router_accuracy": round(best["accuracy"], 4),
            "cv_head_accuracy": round(best["head_accuracy"], 4),
            "cv_by_source": best["by_source"],
            "source": "scripts/train_router",
        },
        **{
            name: {
                "data": f"edgeprompt/shipped/router/{name}.jsonl",
                "rows": len(heldouts[name]),
                "router_accuracy": round(rep.accuracy, 4),
                "confusion": rep.confusion,
            }
            for name, rep in held_reports.items()
        },
        "evaluation": {
            "split": "test",
            "rows": len(test),
            "head_accuracy": round(head_report.accuracy, 4),
            "router_accuracy": round(router_report.accuracy, 4),
            "router_ambiguous_accuracy": round(router_report.ambiguous_accuracy, 4),
            "ambiguous_rows": router_report.ambiguous_n,
            "confusion": router_report.confusion,
        },
    }
    export_head(model, LABELS, args.out, extra)
    print(
        f"test split ({len(test)} rows): head alone {head_report.accuracy:.3f}, router (rules + head + "
        f"precedence) {router_report.accuracy:.3f}, ambiguous {router_report.ambiguous_accuracy:.3f} "
        f"of {router_report.ambiguous_n}",
        file=sys.stderr,
    )
    print(router_report.table(), file=sys.stderr)
    for e in router_report.errors:
        print(f"  miss: {e['label']:>9} -> {e['routed']:<9} {e['text']}", file=sys.stderr)
    for name, rep in held_reports.items():
        print(f"{name} ({len(heldouts[name])} rows): router {rep.accuracy:.3f}", file=sys.stderr)
        print(rep.table(), file=sys.stderr)
        if args.show_errors:
            for e in rep.errors:
                print(f"  miss: {e['label']:>9} -> {e['routed']:<9} {e['text']}", file=sys.stderr)
    print(f"wrote {args.out}/classifier.onnx and classifier.json in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
