"""Semantic drift: is this window's question (or answer) embedding distribution different from a reference?

For each window (calendar day or ISO week, local time) against the reference window (the first one with
enough data, or the previous one), three numbers on MiniLM embeddings:

* centroid distance: 1 − cosine(mean of reference, mean of window) — how far the average moved;
* domain-classifier AUC: a linear (ridge) classifier trained 5-fold cross-validated to tell the two windows
  apart; 0.5 = indistinguishable, 1.0 = completely different;
* MMD² with an RBF kernel (median heuristic) and its permutation-test p-value.

The alarm fires when p < `drift_alpha` (so same-distribution windows false-alarm at about that rate) and
the AUC is at least `drift_min_auc` (so a statistically real but tiny shift in a huge window stays quiet).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.observatory.metrics import rnd
from edgeprompt.observatory.traceset import TraceSet

if TYPE_CHECKING:
    import numpy as np

PERMUTATIONS = 200  # p-values in steps of 1/201: fine against alpha 0.01, and a third cheaper than 300


@dataclass(frozen=True)
class DriftThresholds:
    alpha: float = 0.01
    min_auc: float = 0.55
    min_samples: int = 20
    max_samples: int = 200
    window: str = "day"
    reference: str = "first"

    @classmethod
    def from_settings(cls, section: Mapping[str, Any]) -> DriftThresholds:
        return cls(
            float(section["drift_alpha"]),
            float(section["drift_min_auc"]),
            int(section["drift_min_samples"]),
            int(section["drift_max_samples"]),
            str(section["window"]),
            str(section["drift_reference"]),
        )


@dataclass(frozen=True)
class DriftTest:
    n_reference: int
    n: int
    centroid_distance: float
    auc: float
    mmd2: float
    p_value: float
    alarm: bool


def centroid_distance(x: np.ndarray, y: np.ndarray) -> float:
    import numpy as np

    a, b = x.mean(axis=0), y.mean(axis=0)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(a @ b) / denom if denom > 0 else 0.0


def domain_auc(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Cross-validated AUC of a classifier that tries to tell x from y."""
    import numpy as np
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    z = np.vstack([x, y])
    labels = np.r_[np.zeros(len(x)), np.ones(len(y))]
    folds = int(min(5, len(x), len(y)))
    if folds < 2:
        return 0.5
    # a ridge (least-squares) linear classifier: as good as a logistic one at telling windows apart here,
    # and a closed-form fit, 10-30× faster, which matters with several windows × 2 series in one report
    scores = cross_val_predict(
        RidgeClassifier(alpha=1.0),
        z,
        labels,
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
        method="decision_function",
    )
    return float(roc_auc_score(labels, scores))


def mmd_test(x: np.ndarray, y: np.ndarray, permutations: int = PERMUTATIONS, seed: int = 0) -> tuple[float, float]:
    """(MMD², permutation p-value) with an RBF kernel whose width is the median pairwise distance."""
    import numpy as np

    z = np.vstack([x, y]).astype(np.float64)
    n, n1 = len(z), len(x)
    sq = np.einsum("ij,ij->i", z, z)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (z @ z.T), 0.0)
    med = float(np.median(d2[np.triu_indices(n, 1)])) if n > 1 else 1.0
    k = np.exp(-d2 / (med if med > 0 else 1.0))
    base = np.r_[np.full(n1, 1.0 / n1), np.full(n - n1, -1.0 / (n - n1))]
    rng = np.random.default_rng(seed)
    w = np.vstack([base] + [base[rng.permutation(n)] for _ in range(permutations)])
    stats = np.einsum("ij,ij->i", w @ k, w)  # wᵀKw per row: the biased MMD² of each labelling
    p = (1.0 + float(np.sum(stats[1:] >= stats[0] - 1e-12))) / (permutations + 1.0)
    return float(stats[0]), p


def _sample(v: np.ndarray, limit: int, seed: int) -> np.ndarray:
    import numpy as np

    if len(v) <= limit:
        return v
    return v[np.sort(np.random.default_rng(seed).choice(len(v), limit, replace=False))]


def two_sample(ref: np.ndarray, cur: np.ndarray, th: DriftThresholds, seed: int = 0) -> DriftTest:
    x, y = _sample(ref, th.max_samples, seed), _sample(cur, th.max_samples, seed + 1)
    mmd2, p = mmd_test(x, y, seed=seed)
    auc = domain_auc(x, y, seed)
    return DriftTest(len(ref), len(cur), centroid_distance(x, y), auc, mmd2, p, p < th.alpha and auc >= th.min_auc)


def window_label(ts: float, window: str) -> str:
    if window == "week":
        year, week, _ = datetime.date.fromtimestamp(ts).isocalendar()
        return f"{year}-W{week:02d}"
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def series(ts: TraceSet, vecs: np.ndarray | None, rows: tuple[int, ...], th: DriftThresholds) -> dict[str, Any]:
    """Drift of one embedding series (questions or answers) window by window."""
    import numpy as np

    if vecs is None or not len(rows):
        return {"status": "no embeddings", "reference": None, "windows": [], "alarms": []}
    groups: dict[str, list[int]] = {}
    for i, rec_idx in enumerate(rows):
        groups.setdefault(window_label(ts.records[rec_idx].started_at, th.window), []).append(i)
    labels = sorted(groups)
    out_windows: list[dict[str, Any]] = []
    reference: str | None = None
    first_ref: str | None = None
    for k, label in enumerate(labels):
        idx = np.asarray(groups[label])
        entry: dict[str, Any] = {"window": label, "n": len(idx)}
        if len(idx) < th.min_samples:
            out_windows.append({**entry, "tested": False, "why": f"fewer than {th.min_samples} questions"})
            continue
        if reference is None:
            reference = first_ref = label
            out_windows.append({**entry, "tested": False, "why": "reference"})
            continue
        test = two_sample(vecs[np.asarray(groups[reference])], vecs[idx], th, seed=k)
        d = asdict(test)
        out_windows.append(
            {
                **entry,
                "tested": True,
                "reference": reference,
                **{key: rnd(d[key], 4) for key in ("centroid_distance", "auc", "mmd2", "p_value")},
                "alarm": test.alarm,
            }
        )
        if th.reference == "previous":
            reference = label
    return {
        "status": "ok" if any(w.get("tested") for w in out_windows) else "not enough windows",
        "reference": first_ref if th.reference == "first" else "previous window",
        "windows": out_windows,
        "alarms": [w["window"] for w in out_windows if w.get("alarm")],
    }


def drift(ts: TraceSet, th: DriftThresholds) -> dict[str, Any]:
    return {
        "window": th.window,
        "thresholds": {"alpha": th.alpha, "min_auc": th.min_auc, "min_samples": th.min_samples},
        "questions": series(ts, ts.question_vecs, ts.question_rows, th),
        "answers": series(ts, ts.answer_vecs, ts.answer_rows, th),
    }


def verdict(block: Mapping[str, Any]) -> str:
    """changed | steady | not enough data: one rule for every place that sums drift up (the report's card,
    its drift section, the terminal summary and the app), so "steady" is said only where windows were compared."""
    if block["questions"]["alarms"] or block["answers"]["alarms"]:
        return "changed"
    return "steady" if any(w.get("tested") for w in block["questions"]["windows"]) else "not enough data"
