"""Chat sessions and their turns."""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeprompt.errors import NotFoundError, UsageError
from edgeprompt.store.db import Database


@dataclass(frozen=True)
class Turn:
    id: int
    session_id: str
    role: str
    content: str
    created_at: float
    trace_id: str | None = None
    tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    id: str
    title: str
    model: str | None
    created_at: float
    updated_at: float
    turns: int = 0
    kind: str = "chat"  # chat | ask (a one-off `ask`: kept, but not in the chat lists)


KINDS = ("chat", "ask")


def _session(row: Any) -> Session:
    n = row["n"] if "n" in row.keys() else 0  # noqa: SIM118 - a sqlite Row tests values, not keys, with `in`
    return Session(row["id"], row["title"], row["model"], row["created_at"], row["updated_at"], n, row["kind"])


def _turn(row: Any) -> Turn:
    return Turn(
        row["id"],
        row["session_id"],
        row["role"],
        row["content"],
        row["created_at"],
        row["trace_id"],
        row["tokens"],
        json.loads(row["meta"] or "{}"),
    )


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, title: str = "", model: str | None = None, kind: str = "chat") -> Session:
        if kind not in KINDS:
            raise UsageError(f"unknown session kind '{kind}' (one of {', '.join(KINDS)})")
        sid = uuid.uuid4().hex[:12]
        now = time.time()
        with self.db.transaction() as c:
            c.execute(
                "INSERT INTO sessions(id, title, model, created_at, updated_at, kind) VALUES (?,?,?,?,?,?)",
                (sid, title, model, now, now, kind),
            )
        return Session(sid, title, model, now, now, 0, kind)

    def resolve(self, ref: str) -> str:
        """A full id or a unique prefix of one."""
        rows = self.db.query(
            "SELECT id FROM sessions WHERE id = ? OR id LIKE ? LIMIT 2",
            (ref, ref.replace("%", "").replace("_", "") + "%"),
        )
        exact = [r[0] for r in rows if r[0] == ref]
        if exact:
            return str(exact[0])
        if len(rows) == 1:
            return str(rows[0][0])
        if not rows:
            raise NotFoundError(f"session '{ref}'")
        raise UsageError(f"session prefix '{ref}' is ambiguous")

    def get(self, ref: str) -> Session:
        sid = self.resolve(ref)
        row = self.db.query_one(
            "SELECT s.*, (SELECT count(*) FROM turns t WHERE t.session_id = s.id) AS n FROM sessions s WHERE s.id = ?",
            (sid,),
        )
        return _session(row)

    def list(self, limit: int = 100, search: str | None = None, kinds: Sequence[str] = ("chat",)) -> list[Session]:
        """The newest sessions of `kinds` first (chats only by default: one-off asks would flood a chat list)."""
        sql = "SELECT s.*, (SELECT count(*) FROM turns t WHERE t.session_id = s.id) AS n FROM sessions s "
        sql += f"WHERE s.kind IN ({','.join('?' * len(kinds))}) "
        params: list[Any] = list(kinds)
        if search:
            sql += (
                "AND (s.title LIKE ? OR EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.id AND t.content LIKE ?)) "
            )
            params += [f"%{search}%", f"%{search}%"]
        sql += "ORDER BY s.updated_at DESC LIMIT ?"
        params.append(limit)
        return [_session(r) for r in self.db.query(sql, params)]

    def rename(self, ref: str, title: str) -> Session:
        sid = self.resolve(ref)
        with self.db.transaction() as c:
            c.execute("UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?", (title, time.time(), sid))
        return self.get(sid)

    def delete(self, ref: str) -> str:
        sid = self.resolve(ref)
        with self.db.transaction() as c:
            c.execute("DELETE FROM sessions WHERE id = ?", (sid,))
        return sid

    def attach(self, ref: str, path: str) -> builtins.list[str]:
        """Record an (already indexed) file or folder as one this chat answers from; the chat's list."""
        sid = self.resolve(ref)
        with self.db.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO session_attachments(session_id, path, added_at) VALUES (?,?,?)",
                (sid, path, time.time()),
            )
        return self.attachments(sid)

    def detach(self, ref: str, paths: Sequence[str] = ()) -> builtins.list[str]:
        """Forget the named attachments (all of them when none is named); the chat's remaining list."""
        sid = self.resolve(ref)
        with self.db.transaction() as c:
            if not paths:
                c.execute("DELETE FROM session_attachments WHERE session_id = ?", (sid,))
            c.executemany(
                "DELETE FROM session_attachments WHERE session_id = ? AND path = ?", [(sid, p) for p in paths]
            )
        return self.attachments(sid)

    def attachments(self, session_id: str) -> builtins.list[str]:
        """The files and folders a chat answers from. `session_id` is a full id (what `resolve` returns): the
        pipeline reads this on every turn of a chat and has resolved the id already."""
        return [
            str(r[0])
            for r in self.db.query(
                "SELECT path FROM session_attachments WHERE session_id = ? ORDER BY added_at, path", (session_id,)
            )
        ]

    def turns(self, ref: str) -> builtins.list[Turn]:
        sid = self.resolve(ref)
        rows = self.db.query("SELECT * FROM turns WHERE session_id = ? ORDER BY id", (sid,))
        return [_turn(r) for r in rows]

    def add_exchange(
        self,
        session_id: str,
        question: str,
        answer: str,
        trace_id: str | None,
        tokens: tuple[int | None, int | None] = (None, None),
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Store a question and its answer together, so a session never holds half a turn."""
        now = time.time()
        m = json.dumps(meta or {}, sort_keys=True)
        with self.db.transaction() as c:
            c.execute(
                "INSERT INTO turns(session_id, role, content, created_at, trace_id, tokens, meta) "
                "VALUES (?, 'user', ?, ?, ?, ?, '{}')",
                (session_id, question, now, trace_id, tokens[0]),
            )
            c.execute(
                "INSERT INTO turns(session_id, role, content, created_at, trace_id, tokens, meta) "
                "VALUES (?, 'assistant', ?, ?, ?, ?, ?)",
                (session_id, answer, now, trace_id, tokens[1], m),
            )
            title_row = c.execute("SELECT title FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if title_row is not None and not title_row[0]:
                c.execute("UPDATE sessions SET title = ? WHERE id = ?", (_title_from(question), session_id))
            c.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
            # a one-off ask that is continued (`ask -c`, `--session`, opened in the app) is a conversation now
            c.execute(
                "UPDATE sessions SET kind = 'chat' WHERE id = ? AND kind = 'ask' AND "
                "(SELECT count(*) FROM turns WHERE session_id = ? AND role = 'user') > 1",
                (session_id, session_id),
            )

    def replace_answer(self, turn_id: int, content: str, meta: dict[str, Any]) -> None:
        with self.db.transaction() as c:
            c.execute(
                "UPDATE turns SET content = ?, meta = ? WHERE id = ?",
                (content, json.dumps(meta, sort_keys=True), turn_id),
            )


def _title_from(question: str) -> str:
    words = question.split()
    title = " ".join(words[:8])
    return title + ("…" if len(words) > 8 else "")


def export_markdown(session: Session, turns: list[Turn]) -> str:
    lines = [f"# {session.title or session.id}", "", f"_session {session.id}, model {session.model or '-'}_", ""]
    for t in turns:
        who = {"user": "You", "assistant": "Assistant", "system": "System"}[t.role]
        lines += [f"**{who}:**", "", t.content, ""]
        sources = t.meta.get("sources") or []
        if sources:  # the cited ones are the answer's evidence; the rest were given to the model
            lines += (
                ["Sources:", ""]
                + [
                    f"- [{s.get('n', i)}] {s.get('path', '')}{' ' + s['location'] if s.get('location') else ''}"
                    + ("" if s.get("cited", True) else " (not cited)")
                    for i, s in enumerate(sources, 1)
                ]
                + [""]
            )
    return "\n".join(lines)
