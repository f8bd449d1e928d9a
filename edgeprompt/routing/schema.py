"""DDL of routing: one row per routing decision, joined with thumbs (feedback) to become training data."""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def route_decisions(conn: Any) -> None:
    # `text` is the routed request (without its @tag) when [routing] record_text is on, else NULL; it stays
    # on this laptop: federated training reads it locally and sends only clipped, noised updates.
    run_script(
        conn,
        """
        CREATE TABLE route_decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trace_id TEXT,
            created_at REAL NOT NULL,
            source TEXT NOT NULL,
            text TEXT,
            tag TEXT NOT NULL,
            model TEXT NOT NULL,
            scores TEXT NOT NULL DEFAULT '{}',
            rules TEXT NOT NULL DEFAULT '[]',
            reason TEXT NOT NULL DEFAULT '',
            power TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX route_decisions_trace ON route_decisions(trace_id);
        CREATE INDEX route_decisions_created ON route_decisions(created_at);
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (Migration("0601_route_decisions", route_decisions),)
