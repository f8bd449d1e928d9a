"""DDL of the observatory: per-request signals (embeddings, keywords) and evaluation runs."""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def signals(conn: Any) -> None:
    # What drift and topic clustering need, in a privacy-preserving form, written by the pipeline's
    # `observe.signals` stage: the question's and the answer's MiniLM embeddings (float32[384], unit norm)
    # and a handful of keywords of the question. Never the text itself (that is `trace.capture_content`).
    # The trace row is saved after this stage, so there is no foreign key; a trigger removes the row when
    # its trace is deleted.
    run_script(
        conn,
        """
        CREATE TABLE obs_signals (
            trace_id TEXT PRIMARY KEY,
            embed_model TEXT NOT NULL DEFAULT '',
            question_vec BLOB,
            answer_vec BLOB,
            terms TEXT NOT NULL DEFAULT '[]',
            created_at REAL NOT NULL
        );
        CREATE TRIGGER obs_signals_follow_traces AFTER DELETE ON traces
        BEGIN
            DELETE FROM obs_signals WHERE trace_id = old.id;
        END;
        """,
    )


def eval_runs(conn: Any) -> None:
    # One row per `edgeprompt eval run`, one per case; `eval compare` reads two runs' cases.
    run_script(
        conn,
        """
        CREATE TABLE eval_runs (
            id TEXT PRIMARY KEY,
            suite TEXT NOT NULL,
            suite_path TEXT NOT NULL DEFAULT '',
            suite_sha256 TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt TEXT,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'interrupted')),
            cases INTEGER NOT NULL DEFAULT 0,
            passed INTEGER NOT NULL DEFAULT 0,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX eval_runs_started ON eval_runs(started_at);
        CREATE TABLE eval_results (
            run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            case_id TEXT NOT NULL,
            passed INTEGER NOT NULL,
            score REAL NOT NULL,
            output TEXT NOT NULL DEFAULT '',
            checks TEXT NOT NULL DEFAULT '[]',
            latency_ms REAL,
            output_tokens INTEGER,
            trace_id TEXT,
            error TEXT,
            PRIMARY KEY (run_id, case_id)
        );
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (
    Migration("0501_observatory_signals", signals),
    Migration("0502_eval_runs", eval_runs),
)
