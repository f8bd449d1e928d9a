"""Labelled examples kept on this laptop (firewall corrections, routing outcomes, …).

Each row is (task, text, label, source). Federated training reads them locally; only clipped, noised
model updates ever leave the machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edgeprompt.store.db import Database


@dataclass(frozen=True)
class Example:
    id: int
    task: str  # e.g. "firewall", "router"
    text: str
    label: str  # e.g. "attack" / "benign"; a route tag
    source: str  # e.g. "feedback", "decision", "seed"
    ref: str | None
    created_at: float


class ExampleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, task: str, text: str, label: str, source: str, ref: str | None = None) -> Example:
        now = time.time()
        with self.db.transaction() as c:
            cur = c.execute(
                "INSERT INTO labelled_examples(task, text, label, source, ref, created_at) VALUES (?,?,?,?,?,?)",
                (task, text, label, source, ref, now),
            )
        return Example(int(cur.lastrowid), task, text, label, source, ref, now)

    def add_many(self, rows: list[tuple[str, str, str, str]]) -> int:
        now = time.time()
        with self.db.transaction() as c:
            c.executemany(
                "INSERT INTO labelled_examples(task, text, label, source, created_at) VALUES (?,?,?,?,?)",
                [(*r, now) for r in rows],
            )
        return len(rows)

    def for_task(self, task: str) -> list[Example]:
        rows = self.db.query("SELECT * FROM labelled_examples WHERE task = ? ORDER BY id", (task,))
        return [
            Example(r["id"], r["task"], r["text"], r["label"], r["source"], r["ref"], r["created_at"]) for r in rows
        ]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for task, label, n in self.db.query(
            "SELECT task, label, count(*) FROM labelled_examples GROUP BY task, label ORDER BY task, label"
        ):
            out.setdefault(task, {})[label] = n
        return out
