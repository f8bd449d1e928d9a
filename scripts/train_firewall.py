"""Train the stage-1 classifier head and export it to models/firewall/classifier.{onnx,json}.

Data: the 70 % side of the dev set (`edgeprompt.firewall.evaluate.split`) plus our own examples in
models/firewall/extra_train.jsonl. BIPIA documents with an inserted instruction are left out: the
head sees text without its context, and the same sentence is benign when the user types it (the
`bipia_instruction_as_direct_request` rows), so document-only rules handle those (rules.toml).
The operating point is tuned on out-of-fold predictions of the
70 % and our own examples only (5 folds): the head's output bias is shifted so that the scanner's flag
threshold of 0.5 holds the dev set's benign flag rate at or under --target-fpr AND the flag rate on
our own benign examples (short turns, everyday imperatives, corrections, security questions, personas
in six languages) at or under --target-own-fpr. Our own rows weigh --own-weight times a dev row in the
loss: they are the nearest thing to what users type, and the dev set has few short benign texts.
The 30 % side and tests/firewall/data/ are only measured, never tuned on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.firewall import evaluate, head  # noqa: E402
from edgeprompt.firewall.features import featurize  # noqa: E402
from edgeprompt.firewall.normalize import normalize  # noqa: E402
from edgeprompt.firewall.rules import load_pack, rule_score  # noqa: E402
from edgeprompt.firewall.scanner import combine  # noqa: E402


def rows_for_training(dev: Path, extra: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    train, test = evaluate.split(evaluate.read_jsonl(dev))
    train = [r for r in train if not str(r.get("subset", "")).startswith("bipia_injected")]
    own = [{**r, "subset": "own_" + ("attack" if r["label"] else "benign"), "id": f"own-{i}"}
           for i, r in enumerate(evaluate.read_jsonl(extra))]
    return train + own, test


def sample_weights(y: np.ndarray, own: np.ndarray, own_weight: float) -> np.ndarray:
    """Balanced classes, then our own rows `own_weight` times heavier; mean 1."""
    pos = max(1, int(y.sum()))
    w = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * max(1, len(y) - pos))) * np.where(own, own_weight, 1.0)
    return (w / w.mean()).astype(np.float32)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, epochs: int, hidden: int, seed: int) -> Any:
    import torch

    torch.set_num_threads(1)  # a small dense problem: one thread is as fast and leaves the other core free
    torch.manual_seed(seed)
    model = head.build(x.shape[1], hidden, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    xt, yt, wt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)), torch.from_numpy(w)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(yt), generator=gen).split(64):
            opt.zero_grad()
            loss = (loss_fn(model(xt[idx]), yt[idx]) * wt[idx]).sum() / wt[idx].sum()
            loss.backward()
            opt.step()
    model.eval()
    return model


def margins(model: Any, x: np.ndarray) -> np.ndarray:
    """logit(attack) - logit(benign): the value the bias shift moves."""
    import torch

    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    return logits[:, 1] - logits[:, 0]


def rule_scores(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(rule score, mentions-an-attack flag) per row, as the scanner computes them."""
    pack = load_pack(ROOT / "nonexistent-home")  # a home without an installed pack: the shipped rules
    hits = [pack.match(normalize(r["text"]), evaluate.context_of(r)) for r in rows]
    return (np.array([rule_score(h) for h in hits]),
            np.array([any(x.rule.kind == "mention" for x in h) for h in hits]))


def scores(m: np.ndarray, shift: float, r: np.ndarray, mention: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-(m + shift)))
    return np.array([combine(float(a), float(b), bool(c)) for a, b, c in zip(p, r, mention, strict=True)])


def pick_shift(m: np.ndarray, r: np.ndarray, mention: np.ndarray, limits: list[tuple[np.ndarray, float]]) -> float:
    """The largest bias shift whose flag rate on each benign group stays <= its limit (else the smallest)."""
    ok = []
    for s in np.arange(-6.0, 6.01, 0.1):
        flagged = scores(m, float(s), r, mention) >= 0.5
        if all(flagged[mask].mean() <= limit for mask, limit in limits if mask.any()):
            ok.append(float(s))
    return max(ok) if ok else -6.0


def shift_bias(model: Any, shift: float) -> None:
    import torch

    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias[1] += shift / 2
        last.bias[0] -= shift / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dev", type=Path, default=evaluate.default_devset())
    ap.add_argument("--extra", type=Path, default=ROOT / "models/firewall/extra_train.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "models/firewall")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--hidden", type=int, default=0, help="0 = a linear head (measured best here)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--target-fpr", type=float, default=0.006, help="benign flag rate on the dev set's 70 %%")
    ap.add_argument("--target-own-fpr", type=float, default=0.04, help="flag rate on our own benign examples")
    ap.add_argument("--own-weight", type=float, default=2.0, help="loss weight of our own rows vs a dev row")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.dev.is_file():
        print(f"train_firewall: dev set not found at {args.dev}", file=sys.stderr)
        return 2
    t0 = time.time()
    train, _test = rows_for_training(args.dev, args.extra)
    y = np.array([int(r["label"]) for r in train])
    x = featurize([r["text"] for r in train])
    r, mention = rule_scores(train)
    benign_user = np.array([r_.get("subset") in evaluate.USER_BENIGN for r_ in train])
    own = np.array([str(r_.get("subset")).startswith("own_") for r_ in train])
    w = sample_weights(y, own, args.own_weight)
    fold = np.array([int(hashlib.sha256(str(r_.get("pair_id") or r_["id"]).encode()).hexdigest()[:6], 16) % args.folds
                     for r_ in train])
    oof = np.zeros(len(train))
    for k in range(args.folds):
        model = fit(x[fold != k], y[fold != k], w[fold != k], args.epochs, args.hidden, args.seed)
        oof[fold == k] = margins(model, x[fold == k])
    own_benign, own_attack = own & (y == 0), own & (y == 1)
    shift = pick_shift(oof, r, mention, [(benign_user, args.target_fpr), (own_benign, args.target_own_fpr)])
    flagged = scores(oof, shift, r, mention) >= 0.5
    direct = np.array([r_.get("subset") in evaluate.DIRECT_ATTACKS for r_ in train])
    oof_rates = {"oof_benign_flag_rate": flagged[benign_user].mean(), "oof_direct_recall": flagged[direct].mean(),
                 "oof_own_benign_flag_rate": flagged[own_benign].mean(),
                 "oof_own_attack_recall": flagged[own_attack].mean()}
    print("out-of-fold on the training side: shift " + f"{shift:+.1f}, "
          + ", ".join(f"{k[4:]} {v:.4f}" for k, v in oof_rates.items()), file=sys.stderr)
    model = fit(x, y, w, args.epochs, args.hidden, args.seed)
    shift_bias(model, shift)
    trained = {
        "dev_sha256": hashlib.sha256(args.dev.read_bytes()).hexdigest(),
        "extra_sha256": hashlib.sha256(args.extra.read_bytes()).hexdigest(),
        "rows": len(train), "split_seed": evaluate.SPLIT_SEED, "train_share": evaluate.TRAIN_SHARE,
        "epochs": args.epochs, "own_weight": args.own_weight, "bias_shift": round(shift, 2),
        "target_fpr": args.target_fpr, "target_own_fpr": args.target_own_fpr,
        **{k: round(float(v), 4) for k, v in oof_rates.items()},
        "date": time.strftime("%Y-%m-%d"),
        "data_note": "trained on research data (Tensor Trust has no licence; BIPIA MIT; awesome-chatgpt-prompts "
                     "CC0) plus edgeprompt's own examples; see models/firewall/README.md",
    }
    onnx_path, _ = head.export(model, args.out, trained=trained)
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1024:.0f} KiB) in {time.time() - t0:.1f} s",
          file=sys.stderr)
    print(json.dumps(trained, indent=2))
    return 0 if math.isfinite(shift) else 1


if __name__ == "__main__":
    raise SystemExit(main())
