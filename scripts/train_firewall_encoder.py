"""Train the encoder classifier (MiniLM-L6 token states → pooled head), measure it leave-one-source-out, export it.

Data: `edgeprompt.firewall.corpus` (as scripts/train_firewall), at most --cap rows per source and label.
Input: `edgeprompt.firewall.encoder.encode` (context word as its own segment, head+tail truncation to 128
tokens). The MiniLM layers stay frozen and their last hidden states are computed once and cached in fp16
(on two shared cores a forward pass over the corpus is most of the run: ~30 min for 5,000 rows under load);
the trained part is an MLP over their mean and max pool, so every leave-one-source-out fold costs seconds.
(Fine-tuning encoder layers, or even a learned attention pool over the cached states, cost minutes per fold
on two shared cores: too slow for 16 folds.) Each fold holds out one source, trains on 80 % of the others'
groups, picks its operating point (with the rule pack, as the scanner combines them) on the remaining 20 %
and is measured on the held-out source. ../shared/benchmarks/ is never read.

    scripts/train_firewall_encoder [--loso-only] [--cap N] [--out DIR] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_firewall import (  # noqa: E402
    data_sha256,
    fold_figures,
    loso_summary,
    pick_shift,
    progress,
    rate,
    rule_parts,
    scores,
    weights,
)

from edgeprompt.firewall import corpus, encoder, encoder_model, evaluate  # noqa: E402
from edgeprompt.firewall.normalize import normalize  # noqa: E402

CACHE = Path.home() / ".cache" / "edgeprompt-train" / "fw-encoder"
HIDDEN = 384  # MiniLM-L6's width
EPOCHS = 12
BATCH = 64


def row_key(text: str, context: str) -> str:
    return hashlib.sha256(f"{encoder.FEATURIZER}\n{context}\n{text}".encode()).hexdigest()[:24]


def token_states(texts: list[str], contexts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """fp16 [n, 128, 384] last hidden states of frozen MiniLM and the int8 [n, 128] mask, cached per row on
    disk in chunks (so a stopped run keeps its work)."""
    import torch
    from transformers import AutoModel

    from edgeprompt.embed import weights_dir

    CACHE.mkdir(parents=True, exist_ok=True)
    keys = [row_key(t, c) for t, c in zip(texts, contexts, strict=True)]
    known: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for f in sorted(CACHE.glob("chunk-*.npz")):
        with np.load(f) as z:
            for k, s, m in zip(z["keys"].tolist(), z["states"], z["mask"], strict=True):
                known[k] = (s, m)
    todo = sorted({k: i for i, k in enumerate(keys) if k not in known}.items(), key=lambda kv: len(texts[kv[1]]))
    if todo:
        tok = encoder.load_tokenizer()
        bert = AutoModel.from_pretrained(str(weights_dir()), attn_implementation="eager").eval()
        t0 = time.time()
        chunk: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for start in range(0, len(todo), 32):
            part = todo[start : start + 32]
            b = encoder.encode(tok, [texts[i] for _, i in part], [contexts[i] for _, i in part])
            with torch.no_grad():
                h = bert(
                    input_ids=torch.from_numpy(b.input_ids),
                    attention_mask=torch.from_numpy(b.attention_mask),
                    token_type_ids=torch.zeros_like(torch.from_numpy(b.input_ids)),
                ).last_hidden_state
            for j, (k, _) in enumerate(part):
                s = np.zeros((encoder.MAX_TOKENS, HIDDEN), dtype=np.float16)
                m = np.zeros(encoder.MAX_TOKENS, dtype=np.int8)
                n = int(b.attention_mask[j].sum())
                s[:n] = h[j, :n].numpy().astype(np.float16)
                m[:n] = 1
                chunk[k] = known[k] = (s, m)
            if len(chunk) >= 1024 or start + 32 >= len(todo):
                name = CACHE / f"chunk-{hashlib.sha256(''.join(sorted(chunk)).encode()).hexdigest()[:12]}.npz"
                np.savez(
                    name,
                    keys=np.array(list(chunk)),
                    states=np.stack([v[0] for v in chunk.values()]),
                    mask=np.stack([v[1] for v in chunk.values()]),
                )
                chunk = {}
            progress(f"  encoded {min(start + 32, len(todo))}/{len(todo)} ({time.time() - t0:.0f} s)")
    return np.stack([known[k][0] for k in keys]), np.stack([known[k][1] for k in keys])


def pooled(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 [n, 2 * 384]: `encoder_model.pool` of every row's cached token states (in slices)."""
    import torch

    out = []
    with torch.no_grad():
        for s in range(0, len(states), 256):
            out.append(
                encoder_model.pool(
                    torch.from_numpy(states[s : s + 256].astype(np.float32)), torch.from_numpy(mask[s : s + 256])
                ).numpy()
            )
    return np.concatenate(out)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int, epochs: int = EPOCHS) -> Any:
    """The head's MLP on pooled vectors: AdamW, weighted cross-entropy, mini-batches."""
    import torch

    model = encoder_model.build_head(HIDDEN, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    rng = np.random.default_rng(seed)
    xt, yt, wt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)), torch.from_numpy(w)
    model.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(y)))
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            loss = (torch.nn.functional.cross_entropy(model.mlp(xt[idx]), yt[idx], reduction="none") * wt[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def margins(model: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        lg = model.mlp(torch.from_numpy(x))
    return (lg[:, 1] - lg[:, 0]).numpy()


def calibration_split(groups: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """True for the rows (whole groups) kept out of training to pick the operating point."""
    return np.array(
        [int(hashlib.sha256(f"cal:{g}".encode()).hexdigest()[:6], 16) % 1000 < fraction * 1000 for g in groups]
    )


# the sources the shipped n-gram classifier was trained on: it is compared only on the others
SHIPPED_SAW = {"tensor-trust", "bipia", "awesome-chatgpt-prompts", corpus.OWN_SOURCE}


def shipped_flags(rows: list[corpus.Example], texts: list[str], r: np.ndarray, mention: np.ndarray) -> np.ndarray:
    """What the shipped classifier (with the rule pack) flags on the same rows, for the same-run comparison."""
    from edgeprompt.firewall.classifier import Classifier

    clf = Classifier.load(ROOT / "nonexistent-home")  # the n-gram model: no embedder
    p = np.zeros(len(rows))
    for context in corpus.CONTEXTS:
        idx = [i for i, row in enumerate(rows) if row.context == context]
        for s in range(0, len(idx), 256):
            part = idx[s : s + 256]
            p[part] = clf.predict([texts[i] for i in part], context)
    margin = np.log(np.clip(p, 1e-7, 1 - 1e-7) / np.clip(1 - p, 1e-7, 1))
    return scores(margin, 0.0, r, mention) >= 0.5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=evaluate.default_devset())
    ap.add_argument("--extra", type=Path, default=ROOT / "edgeprompt/shipped/firewall/extra_train.jsonl")
    ap.add_argument("--data", type=Path, default=ROOT / "edgeprompt/shipped/firewall/data")
    ap.add_argument("--out", type=Path, default=ROOT / "edgeprompt/shipped/firewall")
    ap.add_argument("--cap", type=int, default=400, help="at most this many rows of one source and label")
    ap.add_argument("--target-fpr", type=float, default=0.02, help="mean benign flag rate over sources (calibration)")
    ap.add_argument("--target-own-fpr", type=float, default=0.04, help="flag rate on our own benign turns")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--cache-only", action="store_true", help="compute the token states and stop")
    ap.add_argument("--loso-only", action="store_true", help="measure leave-one-source-out; export nothing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    t0 = time.time()
    rows = corpus.cap(corpus.load(args.dev if args.dev.is_file() else None, args.extra, args.data), args.cap)
    if not rows:
        print("train_firewall_encoder: no training rows found", file=sys.stderr)
        return 2
    norms = [normalize(r.text) for r in rows]
    texts = [n.text for n in norms]
    progress(f"{len(rows)} rows from {len({r.source for r in rows})} sources; encoding")
    states, mask = token_states(texts, [r.context for r in rows])
    progress(f"token states ready ({time.time() - t0:.0f} s)")
    if args.cache_only:
        return 0
    x = pooled(states, mask)
    del states, mask
    torch.set_num_threads(1)  # the head's tiny steps: two threads only wait on each other on a loaded machine
    y = np.array([r.label for r in rows])
    src = np.array([r.source for r in rows])
    groups = np.array([r.group for r in rows])
    own = src == corpus.OWN_SOURCE
    r, mention = rule_parts(rows, norms)
    cal = calibration_split(groups)

    def train_and_pick(train_mask: np.ndarray) -> tuple[Any, float]:
        fit_idx, cal_idx = np.flatnonzero(train_mask & ~cal), np.flatnonzero(train_mask & cal)
        model = fit(x[fit_idx], y[fit_idx], weights(y[fit_idx], src[fit_idx]), args.seed, args.epochs)
        m = margins(model, x[cal_idx])
        shift = pick_shift(
            m,
            r[cal_idx],
            mention[cal_idx],
            src[cal_idx],
            y[cal_idx],
            args.target_fpr,
            own[cal_idx],
            args.target_own_fpr,
        )
        return model, shift

    shipped = shipped_flags(rows, texts, r, mention)
    folds = []
    for s in sorted(set(src.tolist())):
        held = src == s
        model, shift = train_and_pick(~held)
        flagged = scores(margins(model, x[held]), shift, r[held], mention[held]) >= 0.5
        yy = y[held]
        fold = fold_figures(s, flagged, yy, shift)
        if s not in SHIPPED_SAW:
            old = shipped[held]
            fold["shipped_recall"] = rate(old[yy == 1])
            fold["shipped_fpr"] = rate(old[yy == 0])
        folds.append(fold)
        progress(
            f"  held out {s}: recall {fold['recall']} fpr {fold['fpr']} (shift {shift:+.1f}, {time.time() - t0:.0f} s)"
        )
    loso = loso_summary(folds)
    unseen = [f for f in folds if "shipped_recall" in f]
    for name, key in (("unseen_by_shipped", ""), ("shipped_on_unseen", "shipped_")):
        rec = [f[key + "recall"] for f in unseen if f[key + "recall"] is not None]
        fpr = [f[key + "fpr"] for f in unseen if f[key + "fpr"] is not None]
        loso[name] = {
            "sources": len(unseen),
            "mean_recall": round(float(np.mean(rec)), 4),
            "mean_fpr": round(float(np.mean(fpr)), 4),
        }
    progress(
        f"leave-one-source-out: mean recall {loso['mean_recall']} at mean FPR {loso['mean_fpr']}; on the "
        f"sources the shipped model never saw: {loso['unseen_by_shipped']} vs shipped {loso['shipped_on_unseen']}"
    )
    if args.loso_only:
        print(json.dumps({"leave_one_source_out": loso}, indent=None if args.json else 2))
        return 0
    _, shift = train_and_pick(np.ones(len(y), dtype=bool))
    final = fit(x, y, weights(y, src), args.seed, args.epochs)  # all rows; the shift from calibration
    sources = {
        s: {
            "attacks": int(y[src == s].sum()),
            "benign": int((y[src == s] == 0).sum()),
            "languages": sorted({rows[i].lang for i in np.flatnonzero(src == s)}),
        }
        for s in sorted(set(src.tolist()))
    }
    trained = {
        "rows": len(rows),
        "data_sha256": data_sha256(rows),
        "epochs": args.epochs,
        "cap": args.cap,
        "bias_shift": round(shift, 2),
        "target_fpr": args.target_fpr,
        "target_own_fpr": args.target_own_fpr,
        "sources": sources,
        "leave_one_source_out": loso,
        "date": time.strftime("%Y-%m-%d"),
        "data_note": "public data files with their licences in edgeprompt/shipped/firewall/DATA.md, the "
        "dev set's 70 % side (Tensor Trust has no licence file; BIPIA MIT; "
        "awesome-chatgpt-prompts CC0) and edgeprompt's own examples; encoder weights: "
        "all-MiniLM-L6-v2 (Apache-2.0)",
    }
    from transformers import AutoModel

    from edgeprompt.embed import weights_dir

    bert = AutoModel.from_pretrained(str(weights_dir()), attn_implementation="eager").eval()
    tok = encoder.load_tokenizer()
    path = encoder_model.export(bert, final, shift, tok, args.out, trained, CACHE / "encoder-fp32.onnx")
    agree = encoder_model.check_agreement(bert, final, tok, path)
    progress(f"  int8 vs torch: max |dp| {agree:.3f}")
    if agree > 0.1:
        print("train_firewall_encoder: the int8 graph disagrees with torch by more than 0.1", file=sys.stderr)
        return 1
    progress(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f} s")
    print(json.dumps(trained, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
