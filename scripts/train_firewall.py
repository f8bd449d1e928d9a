"""Train the stage-1 classifier head and export it to models/firewall/classifier.{onnx,json}.

Data: the 70 % side of the dev set (`edgeprompt.firewall.evaluate.split`) plus our own examples in
models/firewall/extra_train.jsonl. BIPIA documents with an inserted instruction are left out: the
head sees text without its context, and the same sentence is benign when the user types it (the
`bipia_instruction_as_direct_request` rows), so document-only rules handle those (rules.toml).
The operating point is tuned on out-of-fold predictions of the
70 % only (5 folds): the head's output bias is shifted so that the scanner's flag threshold of 0.5
holds the benign flag rate at or under --target-fpr. The 30 % side is only measured, never tuned on.
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


def fit(x: np.ndarray, y: np.ndarray, epochs: int, hidden: int, seed: int) -> Any:
    import torch

    torch.set_num_threads(1)  # a small dense problem: one thread is as fast and leaves the other core free
    torch.manual_seed(seed)
    model = head.build(x.shape[1], hidden, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    pos = max(1, int(y.sum()))
    weights = torch.tensor([len(y) / (2 * (len(y) - pos)), len(y) / (2 * pos)], dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(yt), generator=gen).split(64):
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
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


def pick_shift(m: np.ndarray, r: np.ndarray, mention: np.ndarray, benign_mask: np.ndarray,
               target_fpr: float) -> float:
    """The largest bias shift whose flag rate on benign user texts stays <= target_fpr (else the smallest)."""
    ok = [float(s) for s in np.arange(-6.0, 6.01, 0.1)
          if (scores(m, float(s), r, mention)[benign_mask] >= 0.5).mean() <= target_fpr]
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
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=0, help="0 = a linear head (measured best here)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--target-fpr", type=float, default=0.006)
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
    # the operating point is set on the dev set's benign user texts; our own hard negatives are trained
    # on but not counted here (they are deliberately ambiguous and would drag the whole curve down)
    benign_user = np.array([r_.get("subset") in evaluate.USER_BENIGN for r_ in train])
    fold = np.array([int(hashlib.sha256(str(r_.get("pair_id") or r_["id"]).encode()).hexdigest()[:6], 16) % args.folds
                     for r_ in train])
    oof = np.zeros(len(train))
    for k in range(args.folds):
        model = fit(x[fold != k], y[fold != k], args.epochs, args.hidden, args.seed)
        oof[fold == k] = margins(model, x[fold == k])
    shift = pick_shift(oof, r, mention, benign_user, args.target_fpr)
    flagged = scores(oof, shift, r, mention) >= 0.5
    direct = np.array([r_.get("subset") in evaluate.DIRECT_ATTACKS for r_ in train])
    print(f"out-of-fold on the 70 %: shift {shift:+.1f}, benign flag rate {flagged[benign_user].mean():.4f}, "
          f"direct-attack recall {flagged[direct].mean():.4f}", file=sys.stderr)
    model = fit(x, y, args.epochs, args.hidden, args.seed)
    shift_bias(model, shift)
    trained = {
        "dev_sha256": hashlib.sha256(args.dev.read_bytes()).hexdigest(),
        "extra_sha256": hashlib.sha256(args.extra.read_bytes()).hexdigest(),
        "rows": len(train), "split_seed": evaluate.SPLIT_SEED, "train_share": evaluate.TRAIN_SHARE,
        "epochs": args.epochs, "bias_shift": round(shift, 2), "target_fpr": args.target_fpr,
        "oof_benign_flag_rate": round(float(flagged[benign_user].mean()), 4),
        "oof_direct_recall": round(float(flagged[direct].mean()), 4),
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
