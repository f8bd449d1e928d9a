"""Routing decisions and their outcomes: each decision is kept with its trace id; thumbs on that trace
(edgeprompt.store.feedback) are its outcome. `export` joins the two; `to_examples` turns confirmed
decisions into labelled router examples (`ExampleStore`, task "router") for federated training.

Policy for training data: a thumbs-up answer confirms its route tag, so (text, tag) is written with
source "outcome". A thumbs-down does not say which tag was right, so it is exported (outcome -1) but
never becomes a label. Only built-in tags become examples: the head knows no custom tags.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.routing.rules import TAGS
from edgeprompt.store.examples import ExampleStore

if TYPE_CHECKING:
    from edgeprompt.routing.router import RouteDecision
    from edgeprompt.store.db import Database

TASK = "router"


@dataclass(frozen=True)
class RouteOutcome:
    id: int
    trace_id: str | None
    created_at: float
    source: str
    text: str | None
    route: str
    model: str
    scores: dict[str, float]
    rules: list[str]
    reason: str
    outcome: int | None  # +1 thumbs up, -1 thumbs down (the latest thumbs on the trace), None: none

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "created_at": self.created_at,
            "source": self.source,
            "text": self.text,
            "route": self.route,
            "model": self.model,
            "scores": self.scores,
            "rules": self.rules,
            "reason": self.reason,
            "outcome": self.outcome,
        }


class DecisionLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, decision: RouteDecision, trace_id: str | None, source: str, keep_text: bool) -> int:
        with self.db.transaction() as c:
            cur = c.execute(
                "INSERT INTO route_decisions(trace_id, created_at, source, text, tag, model, scores, rules, reason, "
                "power) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    trace_id,
                    time.time(),
                    source,
                    decision.text if keep_text else None,
                    decision.route,
                    decision.model,
                    json.dumps(decision.scores, sort_keys=True),
                    json.dumps(list(decision.rules)),
                    decision.reason,
                    decision.power,
                ),
            )
        return int(cur.lastrowid)

    def export(self, since: float = 0.0, with_outcome_only: bool = False) -> list[RouteOutcome]:
        rows = self.db.query(
            "SELECT d.*, (SELECT f.score FROM feedback f WHERE f.trace_id = d.trace_id AND f.kind = 'thumbs' "
            "ORDER BY f.id DESC LIMIT 1) AS outcome FROM route_decisions d WHERE d.created_at >= ? ORDER BY d.id",
            (since,),
        )
        out = [
            RouteOutcome(
                r["id"],
                r["trace_id"],
                r["created_at"],
                r["source"],
                r["text"],
                r["tag"],
                r["model"],
                json.loads(r["scores"]),
                json.loads(r["rules"]),
                r["reason"],
                r["outcome"],
            )
            for r in rows
        ]
        return [o for o in out if o.outcome is not None] if with_outcome_only else out

    def to_examples(self, examples: ExampleStore) -> int:
        """Write confirmed (thumbs-up) decisions as router examples, once each (ref = "route:<id>")."""
        done = {e.ref for e in examples.for_task(TASK) if e.ref}
        added = 0
        for o in self.export(with_outcome_only=True):
            ref = f"route:{o.id}"
            if o.outcome == 1 and o.text and o.route in TAGS and ref not in done:
                examples.add(TASK, o.text, o.route, "outcome", ref)
                added += 1
        return added


def record_decision(rt: Any, decision: RouteDecision, trace_id: str | None, source: str) -> int | None:
    """Keep a decision the classifier made (one with scores); `-m` and single-model requests are not
    routing decisions and are only traced."""
    if not decision.scores:
        return None
    return DecisionLog(rt.db).record(decision, trace_id, source, bool(rt.settings.get("routing.record_text")))
