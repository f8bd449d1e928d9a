"""DDL of the runtime core: chat sessions and request traces."""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def sessions(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            model TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            created_at REAL NOT NULL,
            trace_id TEXT,
            tokens INTEGER,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX turns_session ON turns(session_id, id);
        """,
    )


def traces(conn: Any) -> None:
    # One row per request, one row per stage; attribute names follow OpenTelemetry GenAI (gen_ai.*)
    # plus edgeprompt.*; attributes are JSON objects.
    run_script(
        conn,
        """
        CREATE TABLE traces (
            id TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            duration_ms REAL NOT NULL,
            operation TEXT NOT NULL,
            session_id TEXT,
            model TEXT,
            status TEXT NOT NULL,
            attributes TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX traces_started ON traces(started_at);
        CREATE TABLE trace_spans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trace_id TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            start_ms REAL NOT NULL,
            duration_ms REAL NOT NULL,
            attributes TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX trace_spans_trace ON trace_spans(trace_id, seq);
        """,
    )


def feedback(conn: Any) -> None:
    # Thumbs and edits on answers, stored like OpenTelemetry `gen_ai.evaluation.result` events.
    # Edited answers keep the original and the edit: preference pairs for fine-tuning.
    run_script(
        conn,
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trace_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('thumbs', 'edit')),
            score INTEGER,
            comment TEXT,
            original TEXT,
            edited TEXT,
            edit_distance INTEGER,
            created_at REAL NOT NULL
        );
        CREATE INDEX feedback_trace ON feedback(trace_id);
        """,
    )


def labelled_examples(conn: Any) -> None:
    # Local labelled data (firewall corrections, routing outcomes, …). It never leaves the laptop in the
    # clear: federated training reads it and sends only clipped, noised model updates.
    run_script(
        conn,
        """
        CREATE TABLE labelled_examples (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task TEXT NOT NULL,
            text TEXT NOT NULL,
            label TEXT NOT NULL,
            source TEXT NOT NULL,
            ref TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX labelled_examples_task ON labelled_examples(task, id);
        """,
    )


def session_attachments(conn: Any) -> None:
    # files a chat answers from (indexed in the document library; the chat's retrieval is scoped to them)
    run_script(
        conn,
        """
        CREATE TABLE session_attachments (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            added_at REAL NOT NULL,
            PRIMARY KEY (session_id, path)
        );
        """,
    )


def session_kind(conn: Any) -> None:
    # 'chat' (the app, `chat`, `ask -c`) or 'ask' (a one-off `ask`): the chat lists show chats only. Old rows:
    # one-off asks were not marked, so a single exchange without attachments whose title another such
    # session repeats (the flood of "hello" rows) becomes 'ask'; every other old session stays a chat
    run_script(
        conn,
        """
        ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat' CHECK (kind IN ('chat', 'ask'));
        CREATE TEMP TABLE one_offs AS
            SELECT s.id, s.title FROM sessions s
            WHERE (SELECT count(*) FROM turns t WHERE t.session_id = s.id AND t.role = 'user') = 1
              AND NOT EXISTS (SELECT 1 FROM session_attachments a WHERE a.session_id = s.id);
        UPDATE sessions SET kind = 'ask'
            WHERE id IN (SELECT id FROM one_offs WHERE title IN (
                SELECT title FROM one_offs GROUP BY title HAVING count(*) > 1));
        DROP TABLE one_offs;
        CREATE INDEX sessions_kind ON sessions(kind, updated_at);
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (
    Migration("0001_sessions", sessions),
    Migration("0002_traces", traces),
    Migration("0003_feedback", feedback),
    Migration("0004_labelled_examples", labelled_examples),
    Migration("0005_session_attachments", session_attachments),
    Migration("0006_session_kind", session_kind),
)
