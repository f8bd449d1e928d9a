"""Named schema migrations, applied in order, each in its own transaction with its own record.

A shipped migration is never edited: change the schema by appending a new one. Each subsystem keeps
its DDL in its own `schema` module; this list is the single order. A database that records a
migration this code does not know was written by a newer edgeprompt and is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeprompt.cache import schema as cache_schema
from edgeprompt.errors import NewerDatabaseError
from edgeprompt.federation import schema as federation_schema
from edgeprompt.firewall import audit_schema
from edgeprompt.firewall import schema as firewall_schema
from edgeprompt.observatory import schema as observatory_schema
from edgeprompt.prompts import schema as registry_schema
from edgeprompt.rag import schema as rag_schema
from edgeprompt.routing import schema as routing_schema
from edgeprompt.store import schema_core


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[Any], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_sessions", schema_core.sessions),
    Migration("0002_traces", schema_core.traces),
    Migration("0003_feedback", schema_core.feedback),
    Migration("0004_labelled_examples", schema_core.labelled_examples),
    Migration("0201_audit_log", audit_schema.audit_log),
    Migration("0101_documents", rag_schema.documents),
    Migration("0301_prompt_registry", registry_schema.prompt_registry),
    Migration("0701_privacy_ledger", federation_schema.privacy_ledger),
    Migration("0702_federation_events", federation_schema.federation_events),
    Migration("0401_answer_cache", cache_schema.answer_cache),
    Migration("0402_cache_document_invalidation", cache_schema.invalidate_on_document_change),
    Migration("0403_cache_vector_scope", cache_schema.vectors_by_scope),
    Migration("0501_observatory_signals", observatory_schema.signals),
    Migration("0502_eval_runs", observatory_schema.eval_runs),
    Migration("0601_route_decisions", routing_schema.route_decisions),
    Migration("0202_firewall_intel_packs", firewall_schema.intel_packs),
    Migration("0005_session_attachments", schema_core.session_attachments),
)


def applied(db: Any) -> list[str]:
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
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
