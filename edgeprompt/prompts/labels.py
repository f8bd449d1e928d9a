"""Labels: movable pointers (`dev`, `staging`, `production`, any name) from a prompt to one of its versions.

A move updates the pointer and appends its row to `prompt_label_moves` in one transaction. Rollback
replays that history as a stack (a move pushes where the label was, a rollback pops), so repeated
rollbacks walk back through the promotions that were not already undone.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from edgeprompt.errors import NotFoundError, ProtectedLabelError, UsageError
from edgeprompt.prompts.spec import check_name
from edgeprompt.store.db import Database

ROLLBACK = "rollback"


@dataclass(frozen=True)
class Move:
    name: str
    label: str
    from_version: str | None
    to_version: str
    action: str  # promote | rollback | import | install | ab-stop
    forced: bool = False
    signed_by: str | None = None
    created_at: float = 0.0
    changed: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _record(conn: Any, m: Move) -> None:
    conn.execute(
        "INSERT INTO prompt_label_moves(prompt, label, from_version, to_version, action, forced, signed_by, "
        "created_at) VALUES (?,?,?,?,?,?,?,?)",
        (m.name, m.label, m.from_version, m.to_version, m.action, int(m.forced), m.signed_by, m.created_at),
    )


class Labels:
    def __init__(self, db: Database) -> None:
        self.db = db

    def target(self, name: str, label: str) -> str:
        row = self.db.query_one("SELECT version_id FROM prompt_labels WHERE prompt = ? AND label = ?", (name, label))
        if row is None:
            if self.db.query_one("SELECT 1 FROM prompts WHERE name = ?", (name,)) is None:
                raise NotFoundError(f"prompt '{name}'; see `edgeprompt prompts list`")
            raise NotFoundError(f"label '{label}' of prompt '{name}'")
        return str(row[0])

    def of(self, name: str) -> dict[str, str]:
        rows = self.db.query("SELECT label, version_id FROM prompt_labels WHERE prompt = ? ORDER BY label", (name,))
        return {r[0]: r[1] for r in rows}

    def protected(self, name: str) -> list[str]:
        rows = self.db.query("SELECT label FROM prompt_protected_labels WHERE prompt = ? ORDER BY label", (name,))
        return [r[0] for r in rows]

    def protect(self, name: str, label: str, on: bool = True) -> bool:
        """Mark (or unmark) a label as protected; returns whether anything changed."""
        check_name("label", label)
        with self.db.transaction() as c:
            if on:
                cur = c.execute(
                    "INSERT OR IGNORE INTO prompt_protected_labels(prompt, label, created_at) VALUES (?,?,?)",
                    (name, label, time.time()),
                )
            else:
                cur = c.execute("DELETE FROM prompt_protected_labels WHERE prompt = ? AND label = ?", (name, label))
        return bool(cur.rowcount)

    def move(
        self,
        name: str,
        label: str,
        version_id: str,
        action: str,
        *,
        confirmed: bool = False,
        signed_by: str | None = None,
        forced: bool = False,
    ) -> Move:
        """Point `label` at `version_id` (one transaction: pointer and history row together)."""
        check_name("label", label)
        with self.db.transaction() as c:
            guarded = c.execute(
                "SELECT 1 FROM prompt_protected_labels WHERE prompt = ? AND label = ?", (name, label)
            ).fetchone()
            if guarded and not confirmed and signed_by is None:
                raise ProtectedLabelError(f"'{label}' of '{name}'")
            row = c.execute(
                "SELECT version_id FROM prompt_labels WHERE prompt = ? AND label = ?", (name, label)
            ).fetchone()
            prev = row[0] if row else None
            now = time.time()
            move = Move(name, label, prev, version_id, action, forced, signed_by, now, prev != version_id)
            if not move.changed:
                return move
            c.execute(
                "INSERT INTO prompt_labels(prompt, label, version_id, updated_at) VALUES (?,?,?,?) "
                "ON CONFLICT(prompt, label) DO UPDATE SET version_id = excluded.version_id, "
                "updated_at = excluded.updated_at",
                (name, label, version_id, now),
            )
            _record(c, move)
        return move

    def previous(self, name: str, label: str) -> str | None:
        """Where a rollback of `label` goes: the version before the latest move not already rolled back."""
        stack: list[str | None] = []
        for action, frm in self.db.query(
            "SELECT action, from_version FROM prompt_label_moves WHERE prompt = ? AND label = ? ORDER BY id",
            (name, label),
        ):
            if action == ROLLBACK:
                if stack:
                    stack.pop()
            else:
                stack.append(frm)
        return stack[-1] if stack else None

    def rollback(self, name: str, label: str, confirmed: bool = False) -> Move:
        with self.db.transaction():
            self.target(name, label)
            back = self.previous(name, label)
            if back is None:
                raise UsageError(f"label '{label}' of '{name}' has no earlier version to roll back to")
            return self.move(name, label, back, ROLLBACK, confirmed=confirmed)

    def moves(self, name: str, label: str | None = None) -> list[Move]:
        sql = "SELECT * FROM prompt_label_moves WHERE prompt = ?" + (" AND label = ?" if label else "") + " ORDER BY id"
        rows = self.db.query(sql, (name, label) if label else (name,))
        return [
            Move(
                r["prompt"],
                r["label"],
                r["from_version"],
                r["to_version"],
                r["action"],
                bool(r["forced"]),
                r["signed_by"],
                r["created_at"],
            )
            for r in rows
        ]
