"""What a schema module needs to write its migrations: the `Migration` record and `run_script`.

A leaf: it imports nothing of edgeprompt, so every area's schema module can import it without pulling
in the database or the list of migrations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Migration:
    name: str  # recorded in users' databases: a shipped name never changes
    apply: Callable[[Any], None]


def run_script(conn: Any, script: str) -> None:
    """Execute several statements inside the current transaction.

    `executescript` would COMMIT first and break the one-transaction-per-migration rule.
    """
    import sqlean

    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlean.complete_statement(buf):
            if buf.strip():
                conn.execute(buf)
            buf = ""
    if buf.strip():
        conn.execute(buf)
