"""Confidence: the mean token log-probability and entropy of each answer (recorded by the pipeline on the
`generate` span from the backend's per-token logprob/entropy), their distribution per model and per topic,
and the answers below the low-confidence threshold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from edgeprompt.observatory.metrics import percentile, rnd
from edgeprompt.observatory.traceset import TraceRecord, TraceSet

LOGPROB = "edgeprompt.confidence.mean_logprob"
ENTROPY = "edgeprompt.confidence.mean_entropy"
HIST_EDGES = (-8.0, -6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, -0.25, 0.0)
EXAMPLES = 5


def _dist(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "mean": None, "p05": None, "p50": None, "p95": None}
    return {
        "n": len(values),
        "mean": rnd(sum(values) / len(values), 4),
        "p05": rnd(percentile(values, 5), 4),
        "p50": rnd(percentile(values, 50), 4),
        "p95": rnd(percentile(values, 95), 4),
    }


def histogram(values: list[float]) -> list[dict[str, Any]]:
    """Counts per log-probability bin; the first bin also takes everything below -8, the last is [-0.25, 0]."""
    counts = [0] * (len(HIST_EDGES) - 1)
    for v in values:
        i = next((k for k in range(len(HIST_EDGES) - 1) if v < HIST_EDGES[k + 1]), len(counts) - 1)
        counts[i] += 1
    return [{"from": HIST_EDGES[i], "to": HIST_EDGES[i + 1], "count": c} for i, c in enumerate(counts)]


def _group(records: list[TraceRecord], key: Callable[[TraceRecord], str]) -> list[dict[str, Any]]:
    groups: dict[str, list[TraceRecord]] = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return [
        {
            "key": k,
            "mean_logprob": _dist([r.number(LOGPROB) or 0.0 for r in rs]),
            "mean_entropy": _dist([v for r in rs if (v := r.number(ENTROPY)) is not None]),
        }
        for k, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def confidence(ts: TraceSet, threshold: float, topic_of: Callable[[TraceRecord], str] | None = None) -> dict[str, Any]:
    scored = [r for r in ts.records if r.number(LOGPROB) is not None]
    lps = [r.number(LOGPROB) or 0.0 for r in scored]
    low = sorted((r for r in scored if (r.number(LOGPROB) or 0.0) < threshold), key=lambda r: r.number(LOGPROB) or 0)
    out: dict[str, Any] = {
        "answers": len(scored),
        "threshold": threshold,
        "mean_logprob": _dist(lps),
        "mean_entropy": _dist([v for r in scored if (v := r.number(ENTROPY)) is not None]),
        "histogram": histogram(lps),
        "low": {"count": len(low), "examples": [r.id for r in low[:EXAMPLES]]},
        "by_model": _group(scored, lambda r: r.model),
    }
    if topic_of is not None:
        out["by_topic"] = _group(scored, topic_of)
    return out
