"""DDL of the audit log: append-only (triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def audit_log(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            created_at REAL NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (Migration("0201_audit_log", audit_log),)
