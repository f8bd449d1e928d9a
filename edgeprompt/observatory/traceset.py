"""The observatory's one read of the store: traces in a time range with their spans, feedback and signals.

Everything else in the observatory computes from a `TraceSet`; nothing else queries the trace tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.store.db import Database

_RANGE = "t.started_at >= ? AND t.started_at < ?"
# stages whose span attributes the metrics read (tokens, confidence, firewall, retrieval, cache, signals)
READ_ATTRIBUTES_OF = (
    "generate",
    "firewall.input",
    "firewall.isolate",
    "firewall.output",
    "retrieval",
    "cache.lookup",
    "observe.signals",
)
# eval runs (edgeprompt eval run) leave traces too; they are not real use
_NOT_EVAL = " AND t.id NOT IN (SELECT trace_id FROM eval_results WHERE trace_id IS NOT NULL)"


@dataclass(frozen=True)
class TraceRecord:
    id: str
    started_at: float
    duration_ms: float
    operation: str
    session_id: str | None
    model: str
    status: str
    attrs: Mapping[str, Any]  # trace attributes over those of the stages in READ_ATTRIBUTES_OF
    stages: Mapping[str, float]  # milliseconds per stage name (summed when a stage ran twice)
    thumbs: int | None = None  # the latest thumbs on this trace: +1 / -1
    edits: tuple[int, ...] = ()  # edit distances of the user's edits
    terms: tuple[str, ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def number(self, key: str) -> float | None:
        v = self.attrs.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    def stage_ms(self, name: str) -> float | None:
        return self.stages.get(name)


@dataclass(frozen=True)
class TraceSet:
    since: float
    until: float
    records: tuple[TraceRecord, ...]
    question_vecs: Any = None  # ndarray (m, 384) or None
    question_rows: tuple[int, ...] = ()  # record index of each question vector
    answer_vecs: Any = None
    answer_rows: tuple[int, ...] = ()
    by_id: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)


def _stages(db: Database, since: float, until: float, where: str) -> dict[str, dict[str, float]]:
    """Milliseconds per stage for every trace, summed by SQLite and handed over as one JSON object each."""
    rows = db.query(
        "SELECT trace_id, json_group_object(name, ms) FROM (SELECT s.trace_id, s.name, "
        "sum(s.duration_ms) AS ms FROM trace_spans s JOIN traces t ON t.id = s.trace_id "
        f"WHERE {where} GROUP BY s.trace_id, s.name) GROUP BY trace_id",
        (since, until),
    )
    return {tid: json.loads(obj) for tid, obj in rows}


def _span_attrs(db: Database, since: float, until: float, where: str) -> dict[str, list[dict[str, Any]]]:
    """Attributes of the stages the metrics read, as one JSON array per trace (decoding JSON is most of the
    time a report takes; the other stages' attributes are not used)."""
    keep = ",".join(f"'{n}'" for n in READ_ATTRIBUTES_OF)
    rows = db.query(
        "SELECT trace_id, '[' || group_concat(attributes, ',') || ']' FROM (SELECT s.trace_id, "
        "s.attributes FROM trace_spans s JOIN traces t ON t.id = s.trace_id "
        f"WHERE {where} AND s.name IN ({keep}) ORDER BY s.trace_id, s.seq) GROUP BY trace_id",
        (since, until),
    )
    return {tid: json.loads(arr) for tid, arr in rows}


def _merge(trace_attrs: dict[str, Any], spans: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for a in reversed(spans):  # the first stage that recorded a key wins
        merged.update(a)
    merged.update(trace_attrs)
    return merged


def _feedback(db: Database, since: float, until: float, where: str) -> tuple[dict[str, int], dict[str, list[int]]]:
    thumbs: dict[str, int] = {}
    edits: dict[str, list[int]] = {}
    rows = db.query(
        "SELECT f.trace_id, f.kind, f.score, f.edit_distance FROM feedback f "
        f"JOIN traces t ON t.id = f.trace_id WHERE {where} ORDER BY f.id",
        (since, until),
    )
    for tid, kind, score, dist in rows:
        if kind == "thumbs" and score is not None:
            thumbs[tid] = 1 if score > 0 else -1  # later rows win: the user's latest opinion
        elif kind == "edit" and dist is not None:
            edits.setdefault(tid, []).append(int(dist))
    return thumbs, edits


def _signals(db: Database, since: float, until: float, where: str) -> list[Any]:
    return db.query(
        "SELECT s.trace_id, s.question_vec, s.answer_vec, s.terms FROM obs_signals s "
        f"JOIN traces t ON t.id = s.trace_id WHERE {where}",
        (since, until),
    )


def _stack(blobs: list[bytes]) -> np.ndarray | None:
    import numpy as np

    if not blobs:
        return None
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1).astype(np.float32)


def load(db: Database, since: float, until: float, include_eval: bool = False) -> TraceSet:
    """Traces that started in [since, until), without those of eval runs unless asked."""
    where = _RANGE if include_eval else _RANGE + _NOT_EVAL
    rows = db.query(
        "SELECT id, started_at, duration_ms, operation, session_id, model, status, attributes "
        f"FROM traces t WHERE {where} ORDER BY started_at, id",
        (since, until),
    )
    stages = _stages(db, since, until, where)
    span_attrs = _span_attrs(db, since, until, where)
    thumbs, edits = _feedback(db, since, until, where)
    signals = {r[0]: r for r in _signals(db, since, until, where)}
    records: list[TraceRecord] = []
    q_blobs: list[bytes] = []
    q_rows: list[int] = []
    a_blobs: list[bytes] = []
    a_rows: list[int] = []
    for i, (tid, started, dur, op, sid, model, status, attrs) in enumerate(rows):
        sig = signals.get(tid)
        terms: tuple[str, ...] = ()
        if sig is not None:
            terms = tuple(json.loads(sig[3] or "[]"))
            if sig[1] is not None:
                q_blobs.append(sig[1])
                q_rows.append(i)
            if sig[2] is not None:
                a_blobs.append(sig[2])
                a_rows.append(i)
        records.append(
            TraceRecord(
                tid,
                float(started),
                float(dur),
                op,
                sid,
                model or "(unknown)",
                status,
                _merge(json.loads(attrs), span_attrs.get(tid, [])),
                stages.get(tid, {}),
                thumbs.get(tid),
                tuple(edits.get(tid, ())),
                terms,
            )
        )
    return TraceSet(
        since,
        until,
        tuple(records),
        _stack(q_blobs),
        tuple(q_rows),
        _stack(a_blobs),
        tuple(a_rows),
        {r.id: i for i, r in enumerate(records)},
    )


def one(db: Database, trace_id: str) -> TraceRecord | None:
    """One trace by its full id (eval traces included)."""
    row = db.query_one("SELECT started_at FROM traces WHERE id = ?", (trace_id,))
    if row is None:
        return None
    ts = load(db, float(row[0]), float(row[0]) + 1e-3, include_eval=True)
    return next((r for r in ts.records if r.id == trace_id), None)
