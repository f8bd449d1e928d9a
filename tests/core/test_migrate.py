"""The one ordered list of migrations: assembled from the areas' own lists, in the order shipped."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from edgeprompt.store.db import connect
from edgeprompt.store.migrate import AREAS, MIGRATIONS, ORDER, assemble, migrate, open_db
from edgeprompt.store.sessions import SessionStore
from edgeprompt.store.sql import Migration


def _noop(conn: Any) -> None:
    conn.execute("SELECT 1")


def test_every_area_migration_is_applied_once_in_the_shipped_order() -> None:
    assert [m.name for m in MIGRATIONS] == list(ORDER)
    assert sum(len(area.MIGRATIONS) for area in AREAS) == len(ORDER)
    # the shipped order is not the names' order: databases already record it, so it stays as it was
    assert ORDER[4:6] == ("0201_audit_log", "0101_documents") and ORDER[-1] == "0006_session_kind"


def test_a_migration_missing_from_the_order_or_exported_twice_is_refused() -> None:
    a = SimpleNamespace(MIGRATIONS=(Migration("0001_a", _noop),))
    b = SimpleNamespace(MIGRATIONS=(Migration("0002_b", _noop),))
    assert [m.name for m in assemble([b, a], ("0001_a", "0002_b"))] == ["0001_a", "0002_b"]
    with pytest.raises(RuntimeError, match="0002_b"):
        assemble([a, b], ("0001_a",))
    with pytest.raises(RuntimeError, match="twice"):
        assemble([a, a], ("0001_a",))


def test_session_kind_marks_an_old_databases_repeated_one_off_asks(tmp_path: Path) -> None:
    """A database from before 0006: its sessions had no kind. The repeated single-question sessions (every
    CLI `ask` made one) become asks; conversations, attached chats and a unique one-off stay chats."""
    path = tmp_path / "old.db"
    db = connect(path)
    migrate(db, MIGRATIONS[: ORDER.index("0006_session_kind")])
    rows = [
        ("h1", "hello", 1), ("h2", "hello", 1), ("h3", "hello", 1),  # the flood
        ("talk", "hello", 2),  # a conversation that began with hello
        ("once", "what is the capital of France", 1),  # one question, asked once: kept as a chat
        ("att", "lease", 1), ("att2", "lease", 1),  # one question each, but answering from an attached file
    ]  # fmt: skip
    with db.transaction() as c:
        for i, (sid, title, questions) in enumerate(rows):
            c.execute(
                "INSERT INTO sessions(id, title, model, created_at, updated_at) VALUES (?,?,?,?,?)",
                (sid, title, "echo", i, i),
            )
            for _ in range(questions):
                for role in ("user", "assistant"):
                    c.execute(
                        "INSERT INTO turns(session_id, role, content, created_at) VALUES (?,?,?,?)",
                        (sid, role, title, i),
                    )
        for sid in ("att", "att2"):
            c.execute("INSERT INTO session_attachments VALUES (?, ?, 0)", (sid, f"/docs/{sid}.md"))
    db.close()
    db = open_db(path)
    kinds = dict(db.query("SELECT id, kind FROM sessions").__iter__())
    assert kinds == {
        "h1": "ask",
        "h2": "ask",
        "h3": "ask",
        "talk": "chat",
        "once": "chat",
        "att": "chat",
        "att2": "chat",
    }
    store = SessionStore(db)
    assert {s.id for s in store.list()} == {"talk", "once", "att", "att2"}
    assert len(store.list(kinds=("chat", "ask"))) == len(rows)
    store.add_exchange("h1", "and again?", "yes", None)  # a continued one-off becomes a conversation
    assert store.get("h1").kind == "chat" and "h1" in {s.id for s in store.list()}
    db.close()
