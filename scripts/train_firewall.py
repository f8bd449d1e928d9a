"""Train the stage-1 classifier head, measure it leave-one-source-out, and export it to edgeprompt/shipped/firewall/.

Data (`edgeprompt.firewall.corpus`): the 70 % side of ../shared/datasets/injection/dev.jsonl, our own examples
(edgeprompt/shipped/firewall/extra_train.jsonl) and every public data file in edgeprompt/shipped/firewall/data/
(edgeprompt/shipped/firewall/DATA.md: source, commit, licence). Features (`edgeprompt.firewall.features`):
hashed n-grams of the normalised text, its MiniLM sentence vector and its context (user / document / tool).

Leave-one-source-out: for every source, a head is trained on all the other sources and measured on the
one left out (recall on its attacks, flag rate on its benign rows). Each fold picks its own operating point
from out-of-fold predictions of its training sources only, as the shipped model does, so nothing of the
held-out source is seen. The mean over folds is the figure that predicts text nobody here wrote.

Then the shipped head trains on everything; its output bias is shifted so that the scanner's flag
threshold (0.5) keeps the out-of-fold flag rate of every benign source at or under --target-fpr on
average and of our own benign turns at or under --target-own-fpr. ../shared/benchmarks/ is never read.

--union-with DIR keeps the linear head exported in DIR unchanged and trains the new one beside it: a row is
flagged when either flags it (`head.union`, one exported graph). The new head's operating point is picked so
that the union's out-of-fold flag rates stay within the targets, and every fold measures the union.

    scripts/train_firewall [--loso-only] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.firewall import corpus, evaluate, features, head, segments  # noqa: E402
from edgeprompt.firewall.normalize import normalize  # noqa: E402
from edgeprompt.firewall.rules import load_pack, rule_score  # noqa: E402
from edgeprompt.firewall.scanner import MENTION_FACTOR, Thresholds  # noqa: E402

CACHE = Path.home() / ".cache" / "edgeprompt-train"
SHIFTS = np.arange(-6.0, 6.01, 0.1)
EPOCHS = 15


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def embed_all(texts: list[str]) -> np.ndarray:
    """MiniLM vectors of the normalised texts, cached by text hash (embedding is most of the run time)."""
    from edgeprompt.embed import Embedder

    store = CACHE / "firewall-embeddings.npz"
    known: dict[str, np.ndarray] = {}
    if store.is_file():
        with np.load(store) as z:
            known = dict(zip(z["keys"].tolist(), z["vecs"], strict=True))
    keys = [hashlib.sha256(t.encode()).hexdigest()[:24] for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    if todo:
        emb = Embedder.load(threads=1)  # a shared 2-core machine: spinning threads only cost
        t0 = time.time()
        for start in range(0, len(todo), 256):
            part = todo[start : start + 256]
            for (k, _), v in zip(part, emb.embed_batch([t for _, t in part]), strict=True):
                known[k] = v
            progress(f"  embedded {min(start + 256, len(todo))}/{len(todo)} ({time.time() - t0:.0f} s)")
            if start % 2048 == 0 or start + 256 >= len(todo):  # keep what is done if the run is stopped
                CACHE.mkdir(parents=True, exist_ok=True)
                np.savez(store, keys=np.array(list(known)), vecs=np.stack(list(known.values())))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def training_features(texts: list[str], contexts: list[str], featurizer: str = features.FEATURIZER_V1) -> Features:
    """`features.featurize_normalized`'s columns, the n-gram part kept sparse (built in slices to bound
    memory); the sentence vector and context only for the featurizer that has them."""
    from scipy import sparse

    hashed = sparse.vstack(
        [sparse.csr_matrix(features.hashed(texts[i : i + 1000])) for i in range(0, len(texts), 1000)]
    ).tocsr()
    if featurizer == features.FEATURIZER_V1:
        return Features(hashed, np.zeros((len(texts), 0), dtype=np.float32))
    dense = features.assemble(np.zeros((len(texts), 0), dtype=np.float32), embed_all(texts), contexts)
    return Features(hashed, dense)


def rule_parts(rows: list[corpus.CorpusRow], norms: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(rule score, mentions-an-attack flag) per row, as the scanner computes them."""
    pack = load_pack(ROOT / "nonexistent-home")  # a home without an installed pack: the shipped rules
    hits = [pack.scan_hits(n, r.context) for r, n in zip(rows, norms, strict=True)]
    return (np.array([rule_score(h) for h in hits]), np.array([any(x.rule.kind == "mention" for x in h) for h in hits]))


def weights(y: np.ndarray, src: np.ndarray, boost: dict[str, float] | None = None) -> np.ndarray:
    """Every source weighs the same in the loss (a big source must not set the boundary alone), and within a
    source both classes weigh the same; mean 1. `boost` multiplies named sources (`--source-weight`)."""
    w = np.zeros(len(y), dtype=np.float64)
    for s in np.unique(src):
        for lab in (0, 1):
            m = (src == s) & (y == lab)
            if m.any():
                w[m] = 1.0 / m.sum()
    # a source of one class only counts half (it speaks to one side of the boundary)
    for s in np.unique(src):
        m = src == s
        if len(np.unique(y[m])) == 1:
            w[m] *= 0.5
    for name, factor in (boost or {}).items():
        w[src == name] *= factor
    # then the classes are balanced overall
    for lab in (0, 1):
        m = y == lab
        w[m] *= 0.5 / w[m].sum()
    return (w / w.mean()).astype(np.float32)


class Features:
    """The training matrix in two parts: the hashed n-grams as CSR (~97 % zeros) and the dense rest (sentence
    vector and context): `features.assemble`'s columns without a dense [n, 16k] matrix."""

    def __init__(self, hashed: Any, dense: np.ndarray) -> None:
        self.hashed, self.dense = hashed, dense

    @property
    def shape(self) -> tuple[int, int]:
        return self.hashed.shape[0], self.hashed.shape[1] + self.dense.shape[1]

    def __getitem__(self, idx: Any) -> Features:
        return Features(self.hashed[idx], self.dense[idx])

    def csr(self) -> Any:
        from scipy import sparse

        return sparse.hstack([self.hashed, sparse.csr_matrix(self.dense)]).tocsr()


def fit(x: Features, y: np.ndarray, w: np.ndarray, alpha: float, seed: int) -> Any:
    """An L2 logistic regression by SGD over the sparse matrix (a second per fit, where a torch loop over the
    same 16k-wide input took minutes per epoch on two shared cores), returned as `head.build`'s linear head."""
    import torch
    from sklearn.linear_model import SGDClassifier

    lr = SGDClassifier(
        loss="log_loss",
        alpha=alpha,
        max_iter=EPOCHS,
        tol=None,
        random_state=seed,
        learning_rate="optimal",
        average=True,
    )
    lr.fit(x.csr(), y, sample_weight=w)
    module = head.build(x.shape[1], 0, seed)
    coef, bias = lr.coef_[0].astype(np.float32), float(lr.intercept_[0])
    with torch.no_grad():  # two softmax columns whose difference is the logistic margin
        module[0].weight[1] = torch.from_numpy(coef / 2)
        module[0].weight[0] = torch.from_numpy(-coef / 2)
        module[0].bias[1], module[0].bias[0] = bias / 2, -bias / 2
    return module.eval()


def margins(model: Any, x: Features) -> np.ndarray:
    """logit(attack) - logit(benign) of a linear head: the value the bias shift moves (a sparse product)."""
    w = model[0].weight.detach().numpy()
    b = model[0].bias.detach().numpy()
    return np.asarray(x.csr() @ (w[1] - w[0])).ravel() + float(b[1] - b[0])


def scores(
    m: np.ndarray,
    shift: float,
    r: np.ndarray,
    mention: np.ndarray,
    seg: np.ndarray | None = None,
    seg_shift: float = 0.0,
) -> np.ndarray:
    """The scanner's `combine` over arrays: 1-(1-p)(1-r), damped for text that mentions attacks; p is the
    stronger of the whole text's and its best window's (`seg`, -inf without windows) at their shifts."""
    margin = m + shift if seg is None else np.maximum(m + shift, seg + shift + seg_shift)
    p = 1.0 / (1.0 + np.exp(-margin))
    out = 1.0 - (1.0 - p) * (1.0 - r)
    return np.where(mention, out * MENTION_FACTOR, out)


def window_margins(model: Any, xw: Features, owner: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row of `rows`, the largest margin over its windows (`segments.windows`); -inf for a row without."""
    out = np.full(len(rows), -np.inf)
    pick = np.isin(owner, rows)
    if not pick.any():
        return out
    pos = {int(i): k for k, i in enumerate(rows)}
    m = margins(model, xw[np.flatnonzero(pick)])
    for i, v in zip(owner[pick], m, strict=True):
        k = pos[int(i)]
        out[k] = max(out[k], float(v))
    return out


def pick_shift(
    m: np.ndarray,
    r: np.ndarray,
    mention: np.ndarray,
    src: np.ndarray,
    y: np.ndarray,
    target_fpr: float,
    own: np.ndarray,
    target_own: float,
    threshold: np.ndarray | float = 0.5,
    seg: np.ndarray | None = None,
    base: np.ndarray | None = None,
) -> tuple[float, float]:
    """(whole-text shift, window shift): the largest whole-text shift at which the mean benign flag rate over
    sources stays <= target_fpr and our own benign turns <= target_own (else the smallest tried); then, with
    windows, the pair on a coarser grid with the best mean recall over sources under the same limits.
    `base`: rows a kept head already flags (`--union-with`); the limits hold for the union."""
    benign_sources = [src == s for s in np.unique(src[y == 0])]
    attack_sources = [src == s for s in np.unique(src[y == 1])]
    own_b = own & (y == 0)

    def ok(flagged: np.ndarray) -> bool:
        if base is not None:
            flagged = flagged | base
        mean_fpr = float(np.mean([flagged[b & (y == 0)].mean() for b in benign_sources])) if benign_sources else 0.0
        return mean_fpr <= target_fpr and (not own_b.any() or float(flagged[own_b].mean()) <= target_own)

    whole = float(SHIFTS[0])
    for s in SHIFTS[::-1]:
        if ok(scores(m, float(s), r, mention) >= threshold):
            whole = float(s)
            break
    if seg is None or not np.isfinite(seg).any():
        return whole, 0.0

    def recall(flagged: np.ndarray) -> float:
        return float(np.mean([flagged[a & (y == 1)].mean() for a in attack_sources])) if attack_sources else 0.0

    best = (recall(scores(m, whole, r, mention) >= threshold), whole, -12.0)
    for s in SHIFTS[::-1][::3]:
        for t in np.arange(0.0, -8.01, -0.25):
            flagged = scores(m, float(s), r, mention, seg, float(t)) >= threshold
            if ok(flagged):
                best = max(best, (recall(flagged), float(s), float(t)))
                break  # larger (less negative) window shifts for this s failed; smaller ones only lose recall
    return best[1], best[2]


def pick_segment_shift(
    m: np.ndarray,
    seg: np.ndarray,
    r: np.ndarray,
    mention: np.ndarray,
    src: np.ndarray,
    y: np.ndarray,
    own: np.ndarray,
    threshold: np.ndarray,
    budget: float,
) -> tuple[float, dict[str, float]]:
    """For a trained model (its operating point already in its bias): the largest window shift at which the
    mean benign flag rate over sources rises by at most `budget` over the whole-text score's, and our own
    benign turns by at most `budget` too. Returns the shift and the rates before and after."""
    benign_sources = [src == s for s in np.unique(src[y == 0])]
    attack_sources = [src == s for s in np.unique(src[y == 1])]
    own_b = own & (y == 0)

    def rates(flagged: np.ndarray) -> tuple[float, float, float]:
        fpr = float(np.mean([flagged[b & (y == 0)].mean() for b in benign_sources]))
        rec = float(np.mean([flagged[a & (y == 1)].mean() for a in attack_sources]))
        return fpr, (float(flagged[own_b].mean()) if own_b.any() else 0.0), rec

    base = rates(scores(m, 0.0, r, mention) >= threshold)
    chosen, after = -12.0, base
    for t in np.arange(0.0, -8.01, -0.25):
        now = rates(scores(m, 0.0, r, mention, seg, float(t)) >= threshold)
        if now[0] <= base[0] + budget and now[1] <= base[1] + budget:
            chosen, after = float(t), now
            break
    names = ("mean_benign_flag_rate", "own_benign_flag_rate", "mean_attack_recall")
    return chosen, {
        **{f"{k}_before": round(v, 4) for k, v in zip(names, base, strict=True)},
        **{f"{k}_after": round(v, 4) for k, v in zip(names, after, strict=True)},
    }


def calibrate_segments(
    folder: Path,
    texts: list[str],
    contexts: list[str],
    y: np.ndarray,
    src: np.ndarray,
    own: np.ndarray,
    r: np.ndarray,
    mention: np.ndarray,
    thr: np.ndarray,
    budget: float,
) -> dict[str, Any]:
    """Give an exported n-gram model a window operating point (`segment_shift` in its classifier.json),
    picked on the training corpus; the model's weights are not touched."""
    state = head.state_from_onnx(folder / "classifier.onnx")
    desc = json.loads((folder / "classifier.json").read_text(encoding="utf-8"))
    model = head.build(int(desc["dim"]), 0)
    model.load_state_dict(state)
    x = training_features(texts, contexts, str(desc["featurizer"]))
    wins = Windows(texts, contexts, str(desc["featurizer"]))
    m = margins(model, x)
    seg = wins.best(model, np.arange(len(texts)))
    shift, figures = pick_segment_shift(m, seg, r, mention, src, y, own, thr, budget)
    calibration: dict[str, Any] = {"budget": budget, "rows": len(texts), **figures, "date": time.strftime("%Y-%m-%d")}
    desc["segment_shift"] = round(shift, 2)
    desc["segment_calibration"] = calibration
    (folder / "classifier.json").write_text(json.dumps(desc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {**calibration, "segment_shift": round(shift, 2)}


def load_linear(folder: Path, featurizer: str) -> tuple[Any, dict[str, Any]]:
    """The linear head exported in `folder` and what classifier.json says of it (its training, the sha256
    of its ONNX file): the head `--union-with` keeps."""
    desc = json.loads((folder / "classifier.json").read_text(encoding="utf-8"))
    if desc.get("featurizer") != featurizer or int(desc.get("hidden", 0)) != 0:
        raise SystemExit(f"train_firewall: {folder} is not a linear head over {featurizer}")
    model = head.build(int(desc["dim"]), 0)
    model.load_state_dict(head.state_from_onnx(folder / "classifier.onnx"))
    sha = hashlib.sha256((folder / "classifier.onnx").read_bytes()).hexdigest()
    return model.eval(), {"classifier_sha256": sha, "featurizer": featurizer, "trained": desc.get("trained", {})}


def rate(flags: np.ndarray) -> float | None:
    """Share of True among `flags`, rounded; None for an empty selection (a fold without that label)."""
    return round(float(flags.mean()), 4) if flags.size else None


def fold_figures(source: str, flagged: np.ndarray, y: np.ndarray, shift: float) -> dict[str, Any]:
    """One leave-one-source-out fold: its size, the operating point used, recall and FPR on the held-out rows."""
    return {
        "source": source,
        "attacks": int(y.sum()),
        "benign": int((y == 0).sum()),
        "shift": round(shift, 2),
        "recall": rate(flagged[y == 1]),
        "fpr": rate(flagged[y == 0]),
    }


def loso_summary(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """The folds with their mean recall and mean FPR (over the folds that have attacks / benign rows)."""
    recalls = [f["recall"] for f in folds if f["recall"] is not None]
    fprs = [f["fpr"] for f in folds if f["fpr"] is not None]
    return {
        "folds": folds,
        "sources": len(folds),
        "mean_recall": round(float(np.mean(recalls)), 4) if recalls else None,
        "mean_fpr": round(float(np.mean(fprs)), 4) if fprs else None,
    }


def data_sha256(rows: list[Any]) -> str:
    """A hash of the training rows, order-free: what classifier.json records as the data it was trained on."""
    return hashlib.sha256(
        "\n".join(sorted(f"{r.source}\t{r.label}\t{r.context}\t{r.text}" for r in rows)).encode()
    ).hexdigest()


def oof_margins(
    x: Features, groups: np.ndarray, folds: int, train: Callable[[np.ndarray], Any], wins: Windows | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold margins of the texts and (with `wins`) of their best window, folds grouped so a document
    and its twin stay together. `wins` is indexed like `x`'s rows."""
    fold = np.array([int(hashlib.sha256(g.encode()).hexdigest()[:6], 16) % folds for g in groups])
    out = np.zeros(len(groups))
    seg = np.full(len(groups), -np.inf) if wins is not None else None
    for k in range(folds):
        model = train(fold != k)
        out[fold == k] = margins(model, x[fold == k])
        if wins is not None and seg is not None:
            seg[fold == k] = wins.best(model, np.flatnonzero(fold == k))
    return out, seg


class Windows:
    """The sentence windows (`segments.windows`) of a set of rows: their features and which row each is of."""

    def __init__(self, texts: list[str], contexts: list[str], featurizer: str) -> None:
        owner, wtexts, wctx = [], [], []
        for i, t in enumerate(texts):
            for w in segments.windows(segments.scanned_part(t, contexts[i])):
                owner.append(i)
                wtexts.append(w)
                wctx.append(contexts[i])
        self.owner = np.array(owner, dtype=np.int64)
        self.x = training_features(wtexts, wctx, featurizer) if wtexts else None

    def subset(self, rows: np.ndarray) -> Windows:
        """The windows of `rows`, renumbered to positions in `rows`."""
        out = Windows.__new__(Windows)
        pos = np.full(int(max(rows.max(initial=0), self.owner.max(initial=0))) + 1, -1)
        pos[rows] = np.arange(len(rows))
        keep = np.flatnonzero(np.isin(self.owner, rows))
        out.owner = pos[self.owner[keep]]
        out.x = self.x[keep] if self.x is not None and keep.size else None
        return out

    def best(self, model: Any, rows: np.ndarray) -> np.ndarray:
        """Per row of `rows` (positions in this set), the largest window margin; -inf for a row without."""
        if self.x is None:
            return np.full(len(rows), -np.inf)
        return window_margins(model, self.x, self.owner, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", type=Path, default=evaluate.default_devset())
    ap.add_argument("--extra", type=Path, default=ROOT / "edgeprompt/shipped/firewall/extra_train.jsonl")
    ap.add_argument("--data", type=Path, default=ROOT / "edgeprompt/shipped/firewall/data")
    ap.add_argument("--out", type=Path, default=ROOT / "edgeprompt/shipped/firewall")
    ap.add_argument("--alpha", type=float, default=1e-5, help="L2 strength of the logistic regression")
    ap.add_argument("--folds", type=int, default=3, help="inner folds that pick each operating point")
    ap.add_argument("--target-fpr", type=float, default=0.02, help="mean benign flag rate over sources, out of fold")
    ap.add_argument("--target-own-fpr", type=float, default=0.04, help="flag rate on our own benign turns")
    ap.add_argument(
        "--featurizer",
        choices=sorted(features.DIMS),
        default=features.FEATURIZER_V1,
        help="hashed n-grams only (no sentence embedder at run time), or n-grams + MiniLM + context",
    )
    ap.add_argument(
        "--segments",
        action="store_true",
        help="also score sentence windows of long texts (segments.windows) and pick their operating point",
    )
    ap.add_argument(
        "--source-weight",
        action="append",
        default=[],
        metavar="SOURCE=W",
        help="multiply one source's weight in the loss (repeatable)",
    )
    ap.add_argument(
        "--calibrate-segments",
        type=Path,
        metavar="DIR",
        help="only give the model in DIR (classifier.onnx/json) a window operating point picked on the corpus",
    )
    ap.add_argument(
        "--segment-budget",
        type=float,
        default=0.005,
        help="with --calibrate-segments: how much the windows may raise the mean benign flag rate",
    )
    ap.add_argument(
        "--union-with",
        type=Path,
        metavar="DIR",
        help="keep the linear head in DIR (classifier.onnx/json) unchanged and add the trained one beside it: "
        "a row is flagged when either flags it (head.union); operating point and folds measure the union",
    )
    ap.add_argument("--loso-only", action="store_true", help="measure leave-one-source-out; export nothing")
    ap.add_argument("--skip-loso", action="store_true", help="train and export without the per-source folds")
    ap.add_argument(
        "--cap",
        type=int,
        default=1000,
        help="at most this many rows of one source and label "
        "(a deterministic sample; keeps a run within the hour on two cores)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        boost = {k: float(v) for k, v in (item.split("=", 1) for item in args.source_weight)}
    except ValueError:
        print("train_firewall: --source-weight takes SOURCE=NUMBER", file=sys.stderr)
        return 2
    t0 = time.time()
    rows = corpus.cap(corpus.load(args.dev if args.dev.is_file() else None, args.extra, args.data), args.cap)
    if not rows:
        print("train_firewall: no training rows found", file=sys.stderr)
        return 2
    if args.union_with is not None and (args.segments or args.calibrate_segments is not None):
        print("train_firewall: --union-with does not take sentence windows", file=sys.stderr)
        return 2
    progress(f"{len(rows)} rows from {len({r.source for r in rows})} sources; featurizing")
    norms = [normalize(r.text) for r in rows]
    texts = [n.text for n in norms]
    contexts = [r.context for r in rows]
    y = np.array([r.label for r in rows])
    src = np.array([r.source for r in rows])
    own = src == corpus.OWN_SOURCE
    # the scanner's flag threshold: the user's turn, or retrieved text (documents and tool output)
    flag_at = Thresholds()
    thr = np.where(np.array(contexts) == "user", flag_at.flag, flag_at.document_flag)
    r, mention = rule_parts(rows, norms)
    if args.calibrate_segments is not None:
        out = calibrate_segments(
            args.calibrate_segments, texts, contexts, y, src, own, r, mention, thr, args.segment_budget
        )
        print(json.dumps(out, indent=None if args.json else 2))
        return 0
    x = training_features(texts, contexts, args.featurizer)
    wins = Windows(texts, contexts, args.featurizer) if args.segments else None
    groups = np.array([r.group for r in rows])
    kept, base = None, None
    if args.union_with is not None:
        kept, kept_desc = load_linear(args.union_with, args.featurizer)
        base = scores(margins(kept, x), 0.0, r, mention) >= thr  # what the kept head flags at its own bias
    progress(f"features ready ({time.time() - t0:.0f} s, {0 if wins is None else len(wins.owner)} windows)")

    def trainer(mask_all: np.ndarray) -> Callable[[np.ndarray], Any]:
        idx_all = np.flatnonzero(mask_all)

        def train(mask: np.ndarray) -> Any:
            idx = idx_all[mask]
            return fit(x[idx], y[idx], weights(y[idx], src[idx], boost), args.alpha, args.seed)

        return train

    def operating_point(mask: np.ndarray) -> tuple[float, float]:
        idx = np.flatnonzero(mask)
        sub = wins.subset(idx) if wins is not None else None
        m, seg = oof_margins(x[idx], groups[idx], args.folds, trainer(mask), sub)
        return pick_shift(
            m,
            r[idx],
            mention[idx],
            src[idx],
            y[idx],
            args.target_fpr,
            own[idx],
            args.target_own_fpr,
            thr[idx],
            seg,
            None if base is None else base[idx],
        )

    def flags(model: Any, idx: np.ndarray, shift: float, seg_shift: float) -> np.ndarray:
        seg = wins.subset(idx).best(model, np.arange(len(idx))) if wins is not None else None
        flagged: np.ndarray = scores(margins(model, x[idx]), shift, r[idx], mention[idx], seg, seg_shift) >= thr[idx]
        return flagged if base is None else flagged | base[idx]

    loso: dict[str, Any] = {}
    if not args.skip_loso:
        folds = []
        for s in sorted(set(src.tolist())):
            held = src == s
            shift, seg_shift = operating_point(~held)
            model = trainer(~held)(np.ones((~held).sum(), dtype=bool))
            flagged = flags(model, np.flatnonzero(held), shift, seg_shift)
            fold = fold_figures(s, flagged, y[held], shift)
            fold["segment_shift"] = round(seg_shift, 2) if wins is not None else None
            folds.append(fold)
            progress(
                f"  held out {s}: recall {fold['recall']} fpr {fold['fpr']} "
                f"(shift {shift:+.1f}/{seg_shift:+.2f}, {time.time() - t0:.0f} s)"
            )
        loso = loso_summary(folds)
        progress(
            f"leave-one-source-out: mean recall {loso['mean_recall']} at mean FPR {loso['mean_fpr']} "
            f"over {len(folds)} sources"
        )
    if args.loso_only:
        print(json.dumps({"leave_one_source_out": loso}, indent=None if args.json else 2))
        return 0

    everything = np.ones(len(y), dtype=bool)
    shift, seg_shift = operating_point(everything)
    model = trainer(everything)(everything)
    head.shift_bias(model, shift)
    sources = {}
    for s in sorted(set(src.tolist())):
        m = src == s
        sources[s] = {
            "attacks": int(y[m].sum()),
            "benign": int((y[m] == 0).sum()),
            "languages": sorted({rows[i].lang for i in np.flatnonzero(m)}),
        }
    trained = {
        "rows": len(rows),
        "data_sha256": data_sha256(rows),
        "alpha": args.alpha,
        "epochs": EPOCHS,
        "cap": args.cap,
        "source_weights": boost,
        "bias_shift": round(shift, 2),
        "target_fpr": args.target_fpr,
        "target_own_fpr": args.target_own_fpr,
        "sources": sources,
        "leave_one_source_out": loso,
        "date": time.strftime("%Y-%m-%d"),
        "data_note": "public data files with their licences in edgeprompt/shipped/firewall/DATA.md, the dev set's 70 % "
        "side "
        "(Tensor Trust has no licence file; BIPIA MIT; awesome-chatgpt-prompts CC0) and edgeprompt's "
        "own examples",
    }
    extra: dict[str, Any] = {"trained": trained}
    if wins is not None:
        extra["segment_shift"] = round(seg_shift, 2)
    if kept is not None:
        trained["union_with"] = kept_desc
        model = head.union(kept, model)
    onnx_path, _ = head.export(model, args.out, **extra)
    progress(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f} s")
    print(json.dumps(trained, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
