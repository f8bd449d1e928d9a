"""The one ordered list of schema migrations, assembled from the areas' own lists, and `open_db`.

A shipped migration is never edited: change the schema by appending a new one to its area's `MIGRATIONS`
(in that area's `schema` module) and its name to `ORDER` here. Each is applied in its own transaction with
its own record. A database that records a migration this code does not know was written by a newer
edgeprompt and is refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgeprompt.cache import schema as cache_schema
from edgeprompt.errors import NewerDatabaseError
from edgeprompt.federation import schema as federation_schema
from edgeprompt.firewall import schema as firewall_schema
from edgeprompt.observatory import schema as observatory_schema
from edgeprompt.prompts import schema as prompts_schema
from edgeprompt.rag import schema as rag_schema
from edgeprompt.routing import schema as routing_schema
from edgeprompt.store import audit_schema, schema_core
from edgeprompt.store.db import Database, connect
from edgeprompt.store.sql import Migration

# The order migrations are applied in, as shipped; users' databases record these names. Append only.
ORDER = (
    "0001_sessions",
    "0002_traces",
    "0003_feedback",
    "0004_labelled_examples",
    "0201_audit_log",
    "0101_documents",
    "0301_prompt_registry",
    "0701_privacy_ledger",
    "0702_federation_events",
    "0401_answer_cache",
    "0402_cache_document_invalidation",
    "0403_cache_vector_scope",
    "0501_observatory_signals",
    "0502_eval_runs",
    "0601_route_decisions",
    "0202_firewall_intel_packs",
    "0005_session_attachments",
    "0006_session_kind",
)
AREAS = (
    schema_core,
    audit_schema,
    rag_schema,
    prompts_schema,
    federation_schema,
    cache_schema,
    observatory_schema,
    routing_schema,
    firewall_schema,
)


def assemble(areas: Iterable[Any], order: tuple[str, ...]) -> tuple[Migration, ...]:
    """The areas' migrations in `order`; every one of them must be named there exactly once."""
    by_name: dict[str, Migration] = {}
    for area in areas:
        for m in area.MIGRATIONS:
            if m.name in by_name:
                raise RuntimeError(f"migration {m.name} is exported twice")
            by_name[m.name] = m
    if sorted(by_name) != sorted(order):
        raise RuntimeError(f"migrations and their order differ: {sorted(set(by_name) ^ set(order))}")
    return tuple(by_name[name] for name in order)


MIGRATIONS: tuple[Migration, ...] = assemble(AREAS, ORDER)


def applied(db: Any) -> list[str]:
    db.conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    return [r[0] for r in db.query("SELECT name FROM schema_migrations ORDER BY rowid")]


def migrate(db: Any, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply what is missing; return the names applied now."""
    known = {m.name for m in migrations}
    done = applied(db)
    unknown = [n for n in done if n not in known]
    if unknown:
        raise NewerDatabaseError(f"{db.path} has schema '{unknown[-1]}' that this version does not know")
    now: list[str] = []
    for m in migrations:
        if m.name in done:
            continue
        with db.transaction() as conn:
            m.apply(conn)
            conn.execute("INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)", (m.name, time.time()))
        now.append(m.name)
    return now


def open_db(path: Path) -> Database:
    """Open the edgeprompt database and bring its schema up to date (refusing newer ones)."""
    db = connect(path)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db
