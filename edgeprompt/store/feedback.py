"""Feedback on answers: thumbs up/down with an optional comment, and user edits (kept as preference pairs)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from edgeprompt.errors import NotFoundError, UsageError
from edgeprompt.store.db import Database


@dataclass(frozen=True)
class Feedback:
    id: int
    trace_id: str
    kind: str  # thumbs | edit
    score: int | None  # +1 / -1 for thumbs
    comment: str | None
    original: str | None
    edited: str | None
    edit_distance: int | None
    created_at: float


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters (rapidfuzz: C speed, so long answers need no cap)."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(a, b))


class FeedbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _check_trace(self, trace_id: str) -> str:
        rows = self.db.query(
            "SELECT id FROM traces WHERE id = ? OR id LIKE ? LIMIT 2",
            (trace_id, trace_id.replace("%", "").replace("_", "") + "%"),
        )
        if not rows:
            raise NotFoundError(f"trace '{trace_id}'")
        if len(rows) > 1 and rows[0][0] != trace_id:
            raise UsageError(f"trace prefix '{trace_id}' is ambiguous")
        return str(rows[0][0])

    def thumbs(self, trace_id: str, up: bool, comment: str | None = None) -> Feedback:
        tid = self._check_trace(trace_id)
        now = time.time()
        with self.db.transaction() as c:
            cur = c.execute(
                "INSERT INTO feedback(trace_id, kind, score, comment, created_at) VALUES (?,?,?,?,?)",
                (tid, "thumbs", 1 if up else -1, comment, now),
            )
        return Feedback(int(cur.lastrowid), tid, "thumbs", 1 if up else -1, comment, None, None, None, now)

    def edit(self, trace_id: str, original: str, edited: str, comment: str | None = None) -> Feedback:
        tid = self._check_trace(trace_id)
        now = time.time()
        dist = edit_distance(original, edited)
        with self.db.transaction() as c:
            cur = c.execute(
                "INSERT INTO feedback(trace_id, kind, comment, original, edited, edit_distance, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (tid, "edit", comment, original, edited, dist, now),
            )
        return Feedback(int(cur.lastrowid), tid, "edit", None, comment, original, edited, dist, now)

    def for_trace(self, trace_id: str) -> list[Feedback]:
        rows = self.db.query("SELECT * FROM feedback WHERE trace_id = ? ORDER BY id", (trace_id,))
        return [_feedback(r) for r in rows]

    def since(self, t0: float) -> list[Feedback]:
        rows = self.db.query("SELECT * FROM feedback WHERE created_at >= ? ORDER BY id", (t0,))
        return [_feedback(r) for r in rows]


def _feedback(r: Any) -> Feedback:
    """A `feedback` row (sqlite3.Row-like, by column name) as the dataclass."""
    return Feedback(
        r["id"],
        r["trace_id"],
        r["kind"],
        r["score"],
        r["comment"],
        r["original"],
        r["edited"],
        r["edit_distance"],
        r["created_at"],
    )
