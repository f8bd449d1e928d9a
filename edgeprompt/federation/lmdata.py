"""The language model's local training data: answers the user approved or corrected, as (question, answer).

Two kinds of feedback say what a good answer is (edgeprompt.store.feedback):
- a thumbs up on an answer: the question and the model's answer, as the session or trace kept them;
- an edit: the question and the user's own corrected answer (the chosen side of the preference pair
  whose rejected side is the model's original).
Per trace the latest feedback of each kind counts; an edit beats a thumb (the user wrote what they
wanted), and a trace whose latest thumb is down and that has no edit is left out. Nothing here leaves
the laptop: the federated ClientApp tokenizes these examples locally and sends only adapter weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeprompt.store.db import Database


@dataclass(frozen=True)
class ChatExample:
    prompt: str  # the user's question
    answer: str  # the answer to learn: the approved one, or the user's edit
    source: str  # "thumbs" | "edit"
    trace_id: str


def _latest_feedback(db: Database) -> dict[str, dict[str, object]]:
    """Per trace: the latest thumb score and the latest edited text (later rows win)."""
    latest: dict[str, dict[str, object]] = {}
    for row in db.query("SELECT trace_id, kind, score, edited FROM feedback ORDER BY id"):
        entry = latest.setdefault(row["trace_id"], {})
        if row["kind"] == "thumbs":
            entry["score"] = row["score"]
        elif row["kind"] == "edit" and row["edited"]:
            entry["edited"] = row["edited"]
    return latest


def chosen_examples(db: Database) -> list[ChatExample]:
    """Every approved or corrected answer with its question, oldest feedback first."""
    from edgeprompt.observatory.feedbackdata import exchange

    out = []
    for trace_id, fb in _latest_feedback(db).items():
        edited = fb.get("edited")
        if not edited and fb.get("score") != 1:
            continue
        question, answer = exchange(db, trace_id)
        chosen = str(edited) if edited else answer
        if not question or not chosen or not chosen.strip():
            continue  # the exchange was not kept (ask --no-save, capture off): nothing to learn from
        out.append(ChatExample(str(question), chosen, "edit" if edited else "thumbs", trace_id))
    return out


def counts(examples: list[ChatExample]) -> dict[str, int]:
    return {"thumbs": sum(e.source == "thumbs" for e in examples), "edit": sum(e.source == "edit" for e in examples)}
