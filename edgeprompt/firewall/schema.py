"""DDL of the firewall's own tables (the audit log's is in edgeprompt/store/audit_schema.py)."""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def intel_packs(conn: Any) -> None:
    # One row per threat-intel pack installed with `firewall intel import` (rules or model), newest last.
    run_script(
        conn,
        """
        CREATE TABLE firewall_intel_packs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            key_id TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            files TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',
            installed_at REAL NOT NULL
        );
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (Migration("0202_firewall_intel_packs", intel_packs),)
