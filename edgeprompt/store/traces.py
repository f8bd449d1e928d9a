"""Request traces: one `Trace` per request, one span per pipeline stage, saved by `TraceLog`.

Attribute names follow the OpenTelemetry GenAI conventions (`gen_ai.*`) plus `edgeprompt.*`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from edgeprompt.store.db import Database


@dataclass
class Span:
    name: str
    start_ms: float
    duration_ms: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trace:
    """Built up while a request runs; saved once at the end (status ok, error or cancelled)."""

    operation: str = "chat"
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: float = field(default_factory=time.time)
    session_id: str | None = None
    model: str | None = None
    status: str = "ok"
    attributes: dict[str, Any] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    _t0: float = field(default_factory=time.perf_counter, repr=False)

    def now_ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000.0

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span]:
        """Time one stage; the stage may add attributes to the yielded span."""
        s = Span(name, self.now_ms(), attributes=dict(attributes))
        self.spans.append(s)
        try:
            yield s
        except BaseException as e:
            s.attributes.setdefault("error.type", type(e).__name__)
            raise
        finally:
            s.duration_ms = self.now_ms() - s.start_ms

    def record(self, name: str, duration_ms: float, **attributes: Any) -> Span:
        """A stage timed elsewhere (e.g. time to first token inside a stream)."""
        s = Span(name, max(0.0, self.now_ms() - duration_ms), duration_ms, dict(attributes))
        self.spans.append(s)
        return s

    def stage(self, name: str) -> Span | None:
        return next((s for s in self.spans if s.name == name), None)


def _dumps(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True, default=str, ensure_ascii=False)


class TraceLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, trace: Trace) -> None:
        with self.db.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO traces(id, started_at, duration_ms, operation, session_id, model, status, "
                "attributes) VALUES (?,?,?,?,?,?,?,?)",
                (
                    trace.id,
                    trace.started_at,
                    trace.now_ms(),
                    trace.operation,
                    trace.session_id,
                    trace.model,
                    trace.status,
                    _dumps(trace.attributes),
                ),
            )
            c.execute("DELETE FROM trace_spans WHERE trace_id = ?", (trace.id,))
            c.executemany(
                "INSERT INTO trace_spans(trace_id, seq, name, start_ms, duration_ms, attributes) VALUES (?,?,?,?,?,?)",
                [
                    (trace.id, i, s.name, s.start_ms, s.duration_ms, _dumps(s.attributes))
                    for i, s in enumerate(trace.spans)
                ],
            )

    def get(self, trace_id: str) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM traces WHERE id = ?", (trace_id,))
        if row is None:
            return None
        spans = self.db.query("SELECT * FROM trace_spans WHERE trace_id = ? ORDER BY seq", (trace_id,))
        out = dict(row)
        out["attributes"] = json.loads(row["attributes"])
        out["spans"] = [
            {
                "name": s["name"],
                "start_ms": s["start_ms"],
                "duration_ms": s["duration_ms"],
                "attributes": json.loads(s["attributes"]),
            }
            for s in spans
        ]
        return out

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT id FROM traces ORDER BY started_at DESC LIMIT ?", (limit,))
        return [t for r in rows if (t := self.get(r[0])) is not None]
