"""Train the semantic cache's pair verifier and export it to edgeprompt/shipped/cache/verifier/verifier.{onnx,json}.

Data: the `train` split of `edgeprompt.cache.pairset` (hand-written paraphrase groups in
edgeprompt/shipped/cache/verifier/paraphrases.txt and near misses generated from them; see DATA.md there). Nothing
from shared/datasets/semantic_cache (QQP terms: evaluation only) or shared/benchmarks is read. The model:
a few MLPs (one hidden layer each, different seeds) over `verifier.features` whose probabilities are
averaged, trained single-threaded with AdamW, exported to ONNX as one graph and quantised to int8. The
operating point is picked afterwards by scripts/calibrate_cache on the calib split; this script reports
only the train fit and the calib split's ROC-AUC.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.cache import calibrate, pairset, verifier  # noqa: E402

OUT = ROOT / "edgeprompt" / "shipped" / "cache" / "verifier"


def pair_features(pairs: list[pairset.Pair], vec: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([verifier.features(vec[p.q1], vec[p.q2], p.q1, p.q2) for p in pairs])


def train(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, weight_decay: float, seed: int):  # type: ignore[no-untyped-def]
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(hidden, 1)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=weight_decay)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    pos_weight = torch.tensor([(y == 0).sum() / max(1, (y == 1).sum())], dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            loss_fn(model(xt[idx]).squeeze(-1), yt[idx]).backward()
            opt.step()
    return model.eval()


def export(models: list, width: int, folder: Path, meta: dict) -> Path:  # type: ignore[type-arg]
    """ONNX float export of the ensemble, then dynamic int8 quantisation of the weights; the float file is
    not kept."""
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Probability(torch.nn.Module):
        """The members' mean probability: one graph, one session call."""

        def __init__(self, members: list[torch.nn.Module]) -> None:
            super().__init__()
            self.members = torch.nn.ModuleList(members)

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return torch.stack([torch.sigmoid(m(features)).squeeze(-1) for m in self.members]).mean(0)

    folder.mkdir(parents=True, exist_ok=True)
    f32 = folder / "verifier.f32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Probability(models).eval(),
            (torch.zeros(2, width),),
            str(f32),
            input_names=["features"],
            output_names=["probability"],
            dynamic_axes={"features": {0: "batch"}, "probability": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(f32), str(folder / "verifier.onnx"), weight_type=QuantType.QInt8)
    f32.unlink()
    (folder / "verifier.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder / "verifier.onnx"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--weight-decay", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--members",
        type=int,
        default=5,
        help="MLPs trained from seeds seed..seed+members-1 whose probabilities are averaged: one seed's operating "
        "point moves a lot on a small calib split, the mean's much less",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--home", default=None, help="data home whose MiniLM export to use")
    ap.add_argument("--vectors-cache", type=Path, default=None, help="keep question vectors here between runs")
    args = ap.parse_args()
    from calibrate_cache import embedder

    t0 = time.time()
    embed = embedder(args.home, args.vectors_cache)
    paraphrases = (ROOT / "edgeprompt/shipped/cache/verifier/paraphrases.txt").read_text("utf-8")
    pairs = pairset.build(pairset.groups(paraphrases), embed, args.seed)
    texts = sorted({p.q1 for p in pairs} | {p.q2 for p in pairs})
    vec = dict(zip(texts, embed(texts), strict=True))
    tr = [p for p in pairs if p.split == "train"]
    tr = tr + [pairset.Pair(p.q2, p.q1, p.duplicate, p.kind, p.split) for p in tr]  # both orders
    cal = [p for p in pairs if p.split == "calib"]
    x, y = pair_features(tr, vec), np.array([p.duplicate for p in tr])
    models = [train(x, y, args.hidden, args.epochs, args.weight_decay, args.seed + i) for i in range(args.members)]
    counts = {
        s: {"pairs": sum(p.split == s for p in pairs), "duplicates": sum(p.split == s and p.duplicate for p in pairs)}
        for s in pairset.SPLITS
    }
    meta = {
        "features": verifier.FEATURES,
        "width": x.shape[1],
        "arch": f"mlp-{args.hidden} x{args.members} (mean probability)",
        "int8": True,
        "embedder": "all-MiniLM-L6-v2 (mean pooled, L2-normalised)",
        "training": {
            "data": "edgeprompt/shipped/cache/verifier/paraphrases.txt via edgeprompt.cache.pairset",
            "splits": counts,
            "epochs": args.epochs,
            "weight_decay": args.weight_decay,
            "seed": args.seed,
            "source": "scripts/train_cache_verifier",
        },
    }
    path = export(models, x.shape[1], args.out, meta)
    v = verifier.Verifier.load(args.out)
    p_tr = v.probabilities(x)
    p_cal = v.probabilities(pair_features(cal, vec))
    y_cal = np.array([p.duplicate for p in cal])
    print(
        json.dumps(
            {
                "train_auc": calibrate.auc(p_tr, y),
                "calib_auc": calibrate.auc(p_cal, y_cal),
                "calib_cosine_auc": calibrate.auc(np.array([float(vec[p.q1] @ vec[p.q2]) for p in cal]), y_cal),
                "splits": counts,
                "onnx_bytes": path.stat().st_size,
                "seconds": round(time.time() - t0, 1),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
