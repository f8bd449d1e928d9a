"""What feedback needs besides `FeedbackStore`: finding a trace by id prefix, the answer a user rated or
edited, and the edited answers as preference pairs for fine-tuning.

The answer text of a trace comes from its session turns (`turns.trace_id`), or from the trace itself when
content capture was on. With neither (`ask --no-save` and capture off) there is no text to edit.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from edgeprompt.store.db import Database


def resolve_trace(db: Database, ref: str) -> str:
    """A full trace id from an id or a unique prefix (at least 4 characters)."""
    ref = ref.strip().lower()
    if not ref or any(c not in "0123456789abcdef" for c in ref):
        raise UsageError(f"'{ref}' is not a trace id (hexadecimal; see `edgeprompt observe report`)")
    if db.query_one("SELECT 1 FROM traces WHERE id = ?", (ref,)) is not None:
        return ref
    if len(ref) < 4:
        raise UsageError(f"trace id prefix '{ref}' is too short; give at least 4 characters")
    rows = db.query("SELECT id FROM traces WHERE substr(id, 1, ?) = ? LIMIT 2", (len(ref), ref))
    if not rows:
        raise NotFoundError(f"trace '{ref}'")
    if len(rows) > 1:
        raise UsageError(f"trace prefix '{ref}' is ambiguous; give more characters")
    return str(rows[0][0])


def exchange(db: Database, trace_id: str) -> tuple[str | None, str | None]:
    """(question, answer) of a trace, from its session turns or its captured content."""
    rows = db.query("SELECT role, content FROM turns WHERE trace_id = ? ORDER BY id", (trace_id,))
    question = next((r[1] for r in rows if r[0] == "user"), None)
    answer = next((r[1] for r in rows if r[0] == "assistant"), None)
    if question is None or answer is None:
        row = db.query_one("SELECT attributes FROM traces WHERE id = ?", (trace_id,))
        attrs = json.loads(row[0]) if row is not None else {}
        question = question if question is not None else attrs.get("gen_ai.input.messages")
        answer = answer if answer is not None else attrs.get("gen_ai.output.messages")
    return question, answer


def preference_pairs(db: Database) -> list[dict[str, Any]]:
    """Every user edit as {prompt, chosen (the edit), rejected (the model's answer)}, oldest first."""
    out = []
    for row in db.query(
        "SELECT trace_id, original, edited, edit_distance, comment, created_at FROM feedback "
        "WHERE kind = 'edit' ORDER BY id"
    ):
        question, _ = exchange(db, row["trace_id"])
        out.append(
            {
                "trace_id": row["trace_id"],
                "prompt": question,
                "chosen": row["edited"],
                "rejected": row["original"],
                "edit_distance": row["edit_distance"],
                "comment": row["comment"],
                "created_at": row["created_at"],
            }
        )
    return out
