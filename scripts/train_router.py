"""Train the router's classifier head and export it to models/router/classifier.{onnx,json}.

Data: the `train` split of models/router/routing_set.jsonl (written for this project). Features are the
MiniLM embeddings of `routing.router_text(text)`, exactly what the router computes at run time. The
weight decay and the rule-combination operating point (fit threshold, rule boost) are chosen on
out-of-fold predictions of the train split (5 stratified folds); the `test` split is only measured,
once, after the final head is trained on all of train.
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

from edgeprompt.routing import pick_tag, router_text  # noqa: E402
from edgeprompt.routing_eval import load_set, score  # noqa: E402
from edgeprompt.routing_head import export_head, torch_head  # noqa: E402
from edgeprompt.routing_rules import TAGS, keyword_hits  # noqa: E402

LABELS = list(TAGS)


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


def route_all(probs: np.ndarray, fired: list[set[str]], fit_t: float, boost: float) -> list[str]:
    return [pick_tag(dict(zip(LABELS, p.tolist(), strict=True)), f, fit_t, boost)[0]
            for p, f in zip(probs, fired, strict=True)]


def tune(x: np.ndarray, y: np.ndarray, rows: list[dict[str, Any]], fired: list[set[str]], hidden: int,
         seed: int) -> dict[str, Any]:
    """Grid over weight decay, fit threshold and rule boost on out-of-fold probabilities."""
    best: dict[str, Any] = {"accuracy": -1.0}
    for wd in (1e-4, 1e-3, 1e-2, 1e-1):
        oof = np.zeros((len(y), len(LABELS)), dtype=np.float32)
        for held in folds(y, 5, seed):
            keep = np.setdiff1d(np.arange(len(y)), held)
            oof[held] = predict(fit(x[keep], y[keep], wd, hidden, seed), x[held])
        head_acc = float((oof.argmax(1) == y).mean())
        for fit_t in np.arange(0.30, 0.91, 0.05):
            for boost in np.arange(0.0, 0.61, 0.05):
                acc = score(rows, route_all(oof, fired, fit_t, boost)).accuracy
                # ties: prefer the smaller boost (lean on the learned head) and the higher threshold
                key = (acc, -boost, fit_t)
                if key > (best["accuracy"], -best.get("rule_boost", 0), best.get("fit_threshold", 0)):
                    best = {"accuracy": acc, "weight_decay": wd, "fit_threshold": round(float(fit_t), 2),
                            "rule_boost": round(float(boost), 2), "head_accuracy": head_acc}
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "models/router/routing_set.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "models/router")
    ap.add_argument("--hidden", type=int, default=0, help="0 = linear head; >0 = one hidden layer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="embedder cache (default: the data home's)")
    args = ap.parse_args()

    from edgeprompt.embed import Embedder
    from edgeprompt.paths import Paths, resolve_home

    t0 = time.time()
    train, test = load_set(args.data, "train"), load_set(args.data, "test")
    embedder = Embedder.load(args.cache or Paths(resolve_home()).ensure().cache, threads=2)
    xtr = embedder.embed_batch([router_text(r["text"]) for r in train])
    xte = embedder.embed_batch([router_text(r["text"]) for r in test])
    ytr = np.array([LABELS.index(r["label"]) for r in train], dtype=np.int64)
    fired_tr = [{h.tag for h in keyword_hits(r["text"])} for r in train]
    fired_te = [{h.tag for h in keyword_hits(r["text"])} for r in test]

    best = tune(xtr, ytr, train, fired_tr, args.hidden, args.seed)
    print(f"cross-validated on train ({len(train)} rows): {json.dumps(best)}", file=sys.stderr)
    model = fit(xtr, ytr, best["weight_decay"], args.hidden, args.seed)
    pte = predict(model, xte)
    head_report = score(test, [LABELS[i] for i in pte.argmax(1)])
    router_report = score(test, route_all(pte, fired_te, best["fit_threshold"], best["rule_boost"]))
    extra = {
        "arch": "linear" if args.hidden <= 0 else f"mlp-{args.hidden}", "hidden": max(args.hidden, 0),
        "embedder": "all-MiniLM-L6-v2 (mean pooled, L2-normalised)", "embedder_hash": embedder.model_hash,
        "router_text_max_chars": 320, "fit_threshold": best["fit_threshold"], "rule_boost": best["rule_boost"],
        "training": {"data": "models/router/routing_set.jsonl", "split": "train", "rows": len(train),
                     "weight_decay": best["weight_decay"], "seed": args.seed, "cv_router_accuracy": best["accuracy"],
                     "cv_head_accuracy": best["head_accuracy"], "source": "scripts/train_router"},
        "evaluation": {"split": "test", "rows": len(test), "head_accuracy": round(head_report.accuracy, 4),
                       "router_accuracy": round(router_report.accuracy, 4),
                       "router_ambiguous_accuracy": round(router_report.ambiguous_accuracy, 4),
                       "ambiguous_rows": router_report.ambiguous_n, "confusion": router_report.confusion},
    }
    export_head(model, LABELS, args.out, extra)
    print(f"test split ({len(test)} rows): head alone {head_report.accuracy:.3f}, router (rules + head + "
          f"precedence) {router_report.accuracy:.3f}, ambiguous {router_report.ambiguous_accuracy:.3f} "
          f"of {router_report.ambiguous_n}", file=sys.stderr)
    print(router_report.table(), file=sys.stderr)
    for e in router_report.errors:
        print(f"  miss: {e['label']:>9} -> {e['routed']:<9} {e['text']}", file=sys.stderr)
    print(f"wrote {args.out}/classifier.onnx and classifier.json in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
