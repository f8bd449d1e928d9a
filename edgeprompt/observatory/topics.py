"""Topic clusters: question embeddings grouped with k-means (scikit-learn) and labelled by their top terms.

The number of topics is chosen by the silhouette score (cosine) on a sample, unless `[observatory] topics`
fixes it. Labels come from the questions' stored keywords, weighted by class-based TF-IDF (a term counts
for a topic when it is frequent there and rare elsewhere). With keywords turned off a topic is "topic N".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.observatory.metrics import percentile, rate, rnd
from edgeprompt.observatory.traceset import TraceRecord, TraceSet

if TYPE_CHECKING:
    import numpy as np

FIT_SAMPLE = 600
MIN_QUESTIONS = 20
SILHOUETTE_SLACK = 0.05
TOP_TERMS = 3
EXAMPLES = 3
NO_TOPIC = "(no embedding)"


@dataclass(frozen=True)
class Clustering:
    k: int
    labels: Any  # ndarray (m,) of topic ids, aligned with TraceSet.question_rows
    silhouette: float | None


def _sample(n: int, limit: int) -> np.ndarray:
    import numpy as np

    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def cluster(vecs: np.ndarray, k: int = 0, max_k: int = 8) -> Clustering:
    """k-means on unit vectors (so Euclidean ≈ cosine). k = 0 chooses k in 2..max_k: the smallest k whose
    silhouette is within `SILHOUETTE_SLACK` of the best, because finer splits of one topic (by phrasing)
    often score a hair higher and a person reading the report wants topics, not sentence templates."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    fit = vecs[_sample(len(vecs), FIT_SAMPLE)]
    candidates = [k] if k > 0 else list(range(2, max(2, min(max_k, len(fit) // 5)) + 1))
    fits: list[tuple[float | None, Any]] = []
    for kk in candidates:
        if kk >= len(fit):
            continue
        km = KMeans(n_clusters=kk, n_init=10, random_state=0).fit(fit)  # fewer inits miss small topics
        fits.append((float(silhouette_score(fit, km.labels_, metric="cosine")), km))
    if not fits:
        return Clustering(1, np.zeros(len(vecs), dtype=int), None)
    top = max(score or 0.0 for score, _ in fits)
    score, km = next((s, m) for s, m in fits if (s or 0.0) >= top * (1 - SILHOUETTE_SLACK))
    return Clustering(int(km.n_clusters), km.predict(vecs.astype(km.cluster_centers_.dtype)), score)


def top_terms(docs_by_topic: dict[int, list[tuple[str, ...]]], n: int = TOP_TERMS) -> dict[int, list[str]]:
    """Class-based TF-IDF: tf(t, topic) × log(1 + mean terms per topic / frequency of t over all topics)."""
    import math

    tf = {t: Counter(term for doc in docs for term in set(doc)) for t, docs in docs_by_topic.items()}
    total: Counter[str] = Counter()
    for c in tf.values():
        total.update(c)
    avg = sum(total.values()) / max(1, len(tf))
    out = {}
    for t, c in tf.items():
        scored = sorted(c.items(), key=lambda kv: (-kv[1] * math.log(1 + avg / total[kv[0]]), kv[0]))
        out[t] = [term for term, _ in scored[:n]]
    return out


def assign(
    ts: TraceSet, settings: Any, failed: Callable[[TraceRecord], bool]
) -> tuple[dict[str, Any], Callable[[TraceRecord], str]]:
    """The topics block of the report, and a function giving each trace its topic label."""
    vecs = ts.question_vecs
    if vecs is None or len(vecs) < MIN_QUESTIONS:
        n = 0 if vecs is None else len(vecs)
        return (
            {"status": f"needs at least {MIN_QUESTIONS} questions with embeddings (has {n})", "k": 0, "topics": []},
            lambda r: NO_TOPIC,
        )
    c = cluster(vecs, int(settings["topics"]), int(settings["max_topics"]))
    members: dict[int, list[int]] = {}
    for row, label in zip(ts.question_rows, c.labels.tolist(), strict=True):
        members.setdefault(int(label), []).append(row)
    order = sorted(members, key=lambda t: (-len(members[t]), t))
    terms = top_terms({t: [ts.records[i].terms for i in members[t]] for t in order})
    names = {t: (" · ".join(terms[t]) if terms[t] else f"topic {n + 1}") for n, t in enumerate(order)}
    label_of = {ts.records[i].id: names[t] for t in order for i in members[t]}
    topics = [
        _topic_entry(n + 1, names[t], terms[t], [ts.records[i] for i in members[t]], len(ts.question_rows), failed)
        for n, t in enumerate(order)
    ]
    return (
        {
            "status": "ok",
            "k": c.k,
            "silhouette": rnd(c.silhouette, 4),
            "clustered": len(ts.question_rows),
            "topics": topics,
        },
        lambda r: label_of.get(r.id, NO_TOPIC),
    )


def _topic_entry(
    n: int, label: str, terms: list[str], rs: list[TraceRecord], clustered: int, failed: Callable[[TraceRecord], bool]
) -> dict[str, Any]:
    up = sum(1 for r in rs if r.thumbs == 1)
    down = sum(1 for r in rs if r.thumbs == -1)
    lps = [v for r in rs if (v := r.number("edgeprompt.confidence.mean_logprob")) is not None]
    lat = [r.duration_ms for r in rs]
    newest = sorted(rs, key=lambda r: -r.started_at)[:EXAMPLES]
    return {
        "id": n,
        "label": label,
        "terms": terms,
        "requests": len(rs),
        "share": rate(len(rs), clustered),
        "up": up,
        "down": down,
        "up_rate": rate(up, up + down),
        "failed": sum(1 for r in rs if failed(r)),
        "latency_ms_p50": rnd(percentile(lat, 50)),
        "mean_logprob": rnd(sum(lps) / len(lps), 4) if lps else None,
        "examples": [r.id for r in newest],
    }
