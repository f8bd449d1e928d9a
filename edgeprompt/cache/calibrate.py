"""Calibrating the semantic threshold on labelled question pairs: split, score, sweep, report.

Pairs are `{"q1", "q2", "duplicate": 0|1}`. A pair is a cache hit when the questions' cosine reaches the
threshold, the content gate passes and (for the verifier stage) the pair verifier's probability reaches its
minimum. Precision = correct hits / hits; recall = hits on duplicates /
duplicates; the false-hit rate = hits on non-duplicates / non-duplicates. The tune side picks the
threshold; the held-out side (split by a hash of the pair, so it never moves) is only measured.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.cache import gate

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class ScoredPairs:
    similarity: np.ndarray  # cosine per pair
    gated: np.ndarray  # bool: the content gate passes
    labels: np.ndarray  # 1 = duplicate
    probability: np.ndarray | None = None  # the pair verifier's, when scored with one

    def subset(self, idx: Sequence[int]) -> ScoredPairs:
        return ScoredPairs(
            self.similarity[idx],
            self.gated[idx],
            self.labels[idx],
            None if self.probability is None else self.probability[idx],
        )


def side(pair: dict[str, Any], held_out_share: float = 0.5) -> str:
    """'tune' or 'held-out', fixed by a hash of the two questions (stable across runs and file orders)."""
    h = hashlib.sha256(f"{pair['q1']}\x00{pair['q2']}".encode()).digest()
    return "held-out" if int.from_bytes(h[:4], "big") / 2**32 < held_out_share else "tune"


def score(
    pairs: Sequence[dict[str, Any]],
    embed: Callable[[list[str]], np.ndarray],
    verify: Callable[[np.ndarray, np.ndarray, Sequence[dict[str, Any]]], np.ndarray] | None = None,
) -> ScoredPairs:
    """Cosine, gate and (if `verify` is given) verifier probability of every pair."""
    import numpy as np

    texts = sorted({p["q1"] for p in pairs} | {p["q2"] for p in pairs})
    index = {t: i for i, t in enumerate(texts)}
    vecs = embed(texts)
    a = vecs[[index[p["q1"]] for p in pairs]]
    b = vecs[[index[p["q2"]] for p in pairs]]
    sims = (a * b).sum(axis=1)
    gated = np.array([gate.passes(p["q1"], p["q2"]) for p in pairs], dtype=bool)
    labels = np.array([int(p["duplicate"]) for p in pairs])
    return ScoredPairs(sims, gated, labels, None if verify is None else verify(a, b, pairs))


def at(
    s: ScoredPairs, threshold: float, use_gate: bool = True, min_probability: float | None = None
) -> dict[str, float]:
    import numpy as np

    hit = s.similarity >= threshold
    if use_gate:
        hit &= s.gated
    if min_probability is not None and s.probability is not None:
        hit &= s.probability >= min_probability
    dup = s.labels == 1
    hits = int(hit.sum())
    correct = int((hit & dup).sum())
    return {
        "threshold": round(float(threshold), 4),
        "hits": hits,
        "precision": round(correct / hits, 4) if hits else 1.0,
        "recall": round(correct / max(1, int(dup.sum())), 4),
        "false_hit_rate": round(int((hit & ~dup).sum()) / max(1, int((~dup).sum())), 4),
        "pairs": len(s.labels),
        "duplicates": int(np.sum(dup)),
    }


def choose(s: ScoredPairs, target_precision: float, min_hits: int = 20, use_gate: bool = True) -> float:
    """The lowest threshold whose precision (gate on unless `use_gate` is off) reaches the target, over at
    least `min_hits` hits; 1.0 when none does."""
    import numpy as np

    cands = np.unique(np.round(s.similarity[s.gated] if use_gate else s.similarity, 4))[::-1]
    best = 1.0
    for t in cands:
        r = at(s, float(t), use_gate=use_gate)
        if r["hits"] >= min_hits and r["precision"] >= target_precision:
            best = float(t)
    return best


def choose_point(
    s: ScoredPairs,
    target_precision: float,
    min_hits: int = 20,
    floors: Sequence[float] = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9),
) -> tuple[float, float]:
    """(cosine floor, minimum probability) with the highest recall whose precision (gate and verifier on)
    reaches the target over at least `min_hits` hits; (1.0, 1.0) serves nothing when none does."""
    import numpy as np

    assert s.probability is not None
    best, point = -1.0, (1.0, 1.0)
    for floor in floors:
        ok = (s.similarity >= floor) & s.gated
        for p in np.unique(np.round(s.probability[ok], 4)):
            r = at(s, floor, min_probability=float(p))
            if r["hits"] >= min_hits and r["precision"] >= target_precision and r["recall"] > best:
                best, point = r["recall"], (float(floor), float(p))
    return point


def curve(s: ScoredPairs, stage: str, points: int = 9) -> list[dict[str, float]]:
    """Precision/recall along a stage's own knob: the cosine for vector/guards, the probability for the
    verifier (at the floor of 0.5)."""
    import numpy as np

    knobs = np.linspace(0.80, 0.99, points) if stage != "verifier" else np.linspace(0.1, 0.99, points)
    out = []
    for k in knobs:
        r = at(s, float(k), use_gate=stage == "guards") if stage != "verifier" else at(s, 0.5, min_probability=float(k))
        out.append({"knob": round(float(k), 3), "precision": r["precision"], "recall": r["recall"], "hits": r["hits"]})
    return out


def best_recall(scores: np.ndarray, labels: np.ndarray, min_precision: float) -> float:
    """Highest recall at any threshold whose precision is at least `min_precision` (a ranking's ceiling)."""
    import numpy as np

    order = np.argsort(-scores, kind="stable")
    y = labels[order]
    tp = np.cumsum(y)
    prec = tp / np.arange(1, len(y) + 1)
    ok = prec >= min_precision
    return round(float((tp[ok].max() if ok.any() else 0) / max(1, y.sum())), 4)


def precision_at_recall(scores: np.ndarray, labels: np.ndarray, recall: float) -> float:
    import numpy as np

    order = np.argsort(-scores, kind="stable")
    y = labels[order]
    tp = np.cumsum(y)
    i = int(np.searchsorted(tp, math.ceil(recall * y.sum())))
    return round(float(tp[min(i, len(y) - 1)] / (min(i, len(y) - 1) + 1)), 4)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC by the rank-sum (Mann-Whitney) formula, ties given half credit."""
    import numpy as np

    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return round(float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / max(1, n_pos * n_neg)), 4)


_WORD = re.compile(r"\w+")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def lexical_scores(pairs: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The two baselines of the dataset's README: TF-IDF cosine and token Jaccard."""
    import numpy as np

    docs = [_tokens(p[k]) for p in pairs for k in ("q1", "q2")]
    df = Counter(t for d in docs for t in set(d))
    idf = {t: math.log((1 + len(docs)) / (1 + n)) + 1 for t, n in df.items()}

    def tfidf(a: list[str], b: list[str]) -> float:
        va = {t: c * idf[t] for t, c in Counter(a).items()}
        vb = {t: c * idf[t] for t, c in Counter(b).items()}
        dot = sum(v * vb.get(t, 0.0) for t, v in va.items())
        na, nb = math.sqrt(sum(v * v for v in va.values())), math.sqrt(sum(v * v for v in vb.values()))
        return dot / (na * nb) if na and nb else 0.0

    def jaccard(a: list[str], b: list[str]) -> float:
        sa, sb = set(a), set(b)
        return len(sa & sb) / len(sa | sb) if sa | sb else 0.0

    toks = [(_tokens(p["q1"]), _tokens(p["q2"])) for p in pairs]
    return {
        "tfidf_cosine": np.array([tfidf(a, b) for a, b in toks]),
        "token_jaccard": np.array([jaccard(a, b) for a, b in toks]),
    }


def ranking_report(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": auc(scores, labels),
        "recall_at_p90": best_recall(scores, labels, 0.90),
        "recall_at_p95": best_recall(scores, labels, 0.95),
        "precision_at_r50": precision_at_recall(scores, labels, 0.5),
    }


def choose_recall(s: ScoredPairs, recall: float) -> float:
    """The highest threshold at which the gated recall reaches `recall` (the other end of the trade-off)."""
    import numpy as np

    for t in np.unique(np.round(s.similarity[s.gated], 4))[::-1]:
        if at(s, float(t))["recall"] >= recall:
            return float(t)
    return 0.0
