"""DDL of the prompt registry (migrations 03xx).

Versions are immutable: triggers refuse UPDATE and DELETE. Labels are movable pointers; every move
is a row in `prompt_label_moves` written in the same transaction as the pointer, so a crash leaves a
label on the old or the new version, never neither, and rollback can replay the label's history.
"""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def prompt_registry(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE prompts (
            name TEXT PRIMARY KEY,
            created_at REAL NOT NULL
        );
        CREATE TABLE prompt_versions (
            id TEXT PRIMARY KEY,
            prompt TEXT NOT NULL REFERENCES prompts(name),
            seq INTEGER NOT NULL,
            content TEXT NOT NULL,
            author TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            UNIQUE (prompt, seq)
        );
        CREATE TRIGGER prompt_versions_no_update BEFORE UPDATE ON prompt_versions
        BEGIN SELECT RAISE(ABORT, 'prompt versions are immutable; push a new version'); END;
        CREATE TRIGGER prompt_versions_no_delete BEFORE DELETE ON prompt_versions
        BEGIN SELECT RAISE(ABORT, 'prompt versions are immutable; push a new version'); END;
        CREATE TABLE prompt_labels (
            prompt TEXT NOT NULL REFERENCES prompts(name),
            label TEXT NOT NULL,
            version_id TEXT NOT NULL REFERENCES prompt_versions(id),
            updated_at REAL NOT NULL,
            PRIMARY KEY (prompt, label)
        );
        CREATE TABLE prompt_label_moves (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            prompt TEXT NOT NULL,
            label TEXT NOT NULL,
            from_version TEXT,
            to_version TEXT NOT NULL,
            action TEXT NOT NULL,
            forced INTEGER NOT NULL DEFAULT 0,
            signed_by TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX prompt_label_moves_label ON prompt_label_moves(prompt, label, id);
        CREATE TABLE prompt_protected_labels (
            prompt TEXT NOT NULL,
            label TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (prompt, label)
        );
        CREATE TABLE prompt_test_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            version_id TEXT NOT NULL REFERENCES prompt_versions(id),
            model TEXT NOT NULL,
            passed INTEGER NOT NULL,
            total INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            results TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX prompt_test_runs_version ON prompt_test_runs(version_id, model, id);
        CREATE TABLE prompt_experiments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            prompt TEXT NOT NULL REFERENCES prompts(name),
            label TEXT NOT NULL,
            a_version TEXT NOT NULL REFERENCES prompt_versions(id),
            b_version TEXT NOT NULL REFERENCES prompt_versions(id),
            split INTEGER NOT NULL CHECK (split BETWEEN 0 AND 100),
            started_at REAL NOT NULL,
            stopped_at REAL,
            winner TEXT
        );
        CREATE UNIQUE INDEX prompt_experiments_active ON prompt_experiments(prompt) WHERE stopped_at IS NULL;
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (Migration("0301_prompt_registry", prompt_registry),)
