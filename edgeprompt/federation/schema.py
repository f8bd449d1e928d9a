"""DDL of the federation area: the privacy ledger and the log of federated rounds on this laptop."""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def privacy_ledger(conn: Any) -> None:
    # One row per released update: the DP-SGD mechanism's parameters (noise multiplier, sampling rate,
    # steps) are what the accountant composes, so they are kept, not just the resulting epsilon.
    # Append-only: privacy loss that happened cannot be forgotten by editing a row.
    run_script(
        conn,
        """
        CREATE TABLE privacy_ledger (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task TEXT NOT NULL,
            run_id TEXT NOT NULL,
            server_round INTEGER NOT NULL,
            noise_multiplier REAL NOT NULL,
            sample_rate REAL NOT NULL,
            steps INTEGER NOT NULL,
            delta REAL NOT NULL,
            epsilon_round REAL NOT NULL,
            epsilon_total REAL NOT NULL,
            num_examples INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX privacy_ledger_task ON privacy_ledger(task, id);
        CREATE TRIGGER privacy_ledger_no_update BEFORE UPDATE ON privacy_ledger
        BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
        CREATE TRIGGER privacy_ledger_no_delete BEFORE DELETE ON privacy_ledger
        BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
        """,
    )


def federation_events(conn: Any) -> None:
    # What `federation status` shows as "last rounds": trained, refused (budget), imported packs.
    # Metrics are scalars only (loss, accuracy, epsilon); never text or labels.
    run_script(
        conn,
        """
        CREATE TABLE federation_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('trained', 'refused', 'evaluated', 'imported')),
            task TEXT NOT NULL,
            run_id TEXT NOT NULL DEFAULT '',
            server_round INTEGER,
            metrics TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        CREATE INDEX federation_events_time ON federation_events(created_at);
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (
    Migration("0701_privacy_ledger", privacy_ledger),
    Migration("0702_federation_events", federation_events),
)
