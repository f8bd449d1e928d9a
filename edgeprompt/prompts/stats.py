"""Outcome metrics per prompt version, from the traces the pipeline wrote and the feedback users gave.

Traces carry `edgeprompt.prompt.name`/`.version`/`.label`; feedback rows point at a trace. Per version:
answers, latency p50/p95 (whole request), thumbs-up rate among rated answers, edit rate and failure
rate (traces whose status is `error`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprompt.prompts.store import PromptRegistry

STATS_SQL = """
SELECT json_extract(t.attributes, '$."edgeprompt.prompt.version"') AS version, t.duration_ms, t.status,
       coalesce(f.up, 0) AS up, coalesce(f.rated, 0) AS rated, coalesce(f.edited, 0) AS edited
FROM traces t
LEFT JOIN (SELECT trace_id, sum(kind = 'thumbs' AND score > 0) AS up, sum(kind = 'thumbs') AS rated,
                  max(kind = 'edit') AS edited
           FROM feedback GROUP BY trace_id) f ON f.trace_id = t.id
WHERE json_extract(t.attributes, '$."edgeprompt.prompt.name"') = ?
"""


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a non-empty list; None for an empty one."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _ratio(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def version_stats(registry: PromptRegistry, name: str) -> list[dict[str, Any]]:
    """One row per version of `name` (oldest first), including versions that have not answered yet."""
    versions = registry.history(name)
    labels: dict[str, list[str]] = {}
    for label, vid in registry.labels.of(name).items():
        labels.setdefault(vid, []).append(label)
    per: dict[str, dict[str, Any]] = {
        v.id: {"durations": [], "failed": 0, "up": 0, "rated": 0, "edited": 0} for v in versions
    }
    for r in registry.db.query(STATS_SQL, (name,)):
        acc = per.get(r["version"])
        if acc is None:  # a trace naming a version this registry never had (e.g. imported traces)
            continue
        acc["durations"].append(float(r["duration_ms"]))
        acc["failed"] += r["status"] == "error"
        acc["up"] += r["up"]
        acc["rated"] += r["rated"]
        acc["edited"] += bool(r["edited"])
    out = []
    for v in versions:
        acc = per[v.id]
        n = len(acc["durations"])
        p50, p95 = percentile(acc["durations"], 50), percentile(acc["durations"], 95)
        out.append(
            {
                "version": v.id,
                "seq": v.seq,
                "labels": labels.get(v.id, []),
                "count": n,
                "latency_p50_ms": None if p50 is None else round(p50, 2),
                "latency_p95_ms": None if p95 is None else round(p95, 2),
                "rated": acc["rated"],
                "thumbs_up_rate": _ratio(acc["up"], acc["rated"]),
                "edit_rate": _ratio(acc["edited"], n),
                "failure_rate": _ratio(acc["failed"], n),
            }
        )
    return out
