"""Failure categories: what went wrong with an answer, read from its trace.

A request can fall in several categories. Each category counts requests and keeps the newest example
trace ids, so the owner can open them (`edgeprompt observe trace ID`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from edgeprompt.observatory.metrics import firewall_actions, rate
from edgeprompt.observatory.traceset import TraceRecord, TraceSet

EXAMPLES = 5
CATEGORIES = (
    "refusal",
    "truncation",
    "abstention",
    "firewall_block",
    "redaction",
    "missing_citation",
    "low_confidence",
    "thumbs_down",
    "error",
)
DESCRIPTIONS = {
    "refusal": "the model declined to answer",
    "truncation": "the answer hit the token limit and was cut off",
    "abstention": "the assistant said it did not know or found nothing in the documents",
    "firewall_block": "the firewall blocked the question or the answer",
    "redaction": "the firewall removed private data from the answer",
    "missing_citation": "documents were retrieved but the answer cites none",
    "low_confidence": "the model was unsure of its own words (low token probability)",
    "thumbs_down": "the user rated the answer down",
    "error": "the request failed with an error",
}


def _count(r: TraceRecord, *keys: str) -> int | None:
    for k in keys:
        v = r.get(k)
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int | float):
            return int(v)
        if isinstance(v, list):
            return len(v)
    return None


def abstained(r: TraceRecord) -> bool:
    """Retrieval found nothing relevant enough (edgeprompt.rag.abstained), or the answer says it does not know."""
    return bool(r.get("edgeprompt.rag.abstained") or r.get("edgeprompt.answer.abstention"))


def missing_citation(r: TraceRecord) -> bool:
    """Numbered sources were given to the model (edgeprompt.rag.sources) and the answer cites none of them."""
    if abstained(r):
        return False
    sources = _count(r, "edgeprompt.rag.sources")
    cited = _count(r, "edgeprompt.answer.citations")
    return bool(sources) and cited == 0


def low_confidence(r: TraceRecord, threshold: float) -> bool:
    v = r.number("edgeprompt.confidence.mean_logprob")
    return v is not None and v < threshold


def checks(threshold: float) -> dict[str, Callable[[TraceRecord], bool]]:
    return {
        # the firewall's own "I can't help with that" is a block, not the model refusing
        "refusal": lambda r: bool(r.get("edgeprompt.answer.refusal")) and "block" not in firewall_actions(r),
        "truncation": lambda r: r.get("edgeprompt.finish_reason") == "length",
        "abstention": abstained,
        "firewall_block": lambda r: "block" in firewall_actions(r),
        "redaction": lambda r: "redact" in firewall_actions(r),
        "missing_citation": missing_citation,
        "low_confidence": lambda r: low_confidence(r, threshold),
        "thumbs_down": lambda r: r.thumbs == -1,
        "error": lambda r: r.status == "error",
    }


def categorise(r: TraceRecord, threshold: float) -> list[str]:
    return [name for name, test in checks(threshold).items() if test(r)]


def categorised(ts: TraceSet, threshold: float) -> list[list[str]]:
    """Each record's categories, in the order of `ts.records`: the report reads them three times."""
    tests = checks(threshold)
    return [[name for name, test in tests.items() if test(r)] for r in ts.records]


def failures(ts: TraceSet, found: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Per category: count, rate and the newest examples; `found` is `categorised(ts, threshold)`."""
    hits: dict[str, list[TraceRecord]] = {name: [] for name in CATEGORIES}
    for r, names in zip(ts.records, found, strict=True):
        for name in names:
            hits[name].append(r)
    n = len(ts.records)
    return {
        name: {
            "count": len(rs),
            "rate": rate(len(rs), n),
            "description": DESCRIPTIONS[name],
            "examples": [r.id for r in sorted(rs, key=lambda r: -r.started_at)[:EXAMPLES]],
        }
        for name, rs in hits.items()
    }


def with_any(found: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Requests with at least one failure category; `found` is `categorised(ts, threshold)`."""
    n = sum(1 for names in found if names)
    return {"count": n, "rate": rate(n, len(found))}
