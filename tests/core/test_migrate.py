"""The one ordered list of migrations: assembled from the areas' own lists, in the order shipped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from edgeprompt.store.migrate import AREAS, MIGRATIONS, ORDER, assemble
from edgeprompt.store.sql import Migration


def _noop(conn: Any) -> None:
    conn.execute("SELECT 1")


def test_every_area_migration_is_applied_once_in_the_shipped_order() -> None:
    assert [m.name for m in MIGRATIONS] == list(ORDER)
    assert sum(len(area.MIGRATIONS) for area in AREAS) == len(ORDER)
    # the shipped order is not the names' order: databases already record it, so it stays as it was
    assert ORDER[4:6] == ("0201_audit_log", "0101_documents") and ORDER[-1] == "0005_session_attachments"


def test_a_migration_missing_from_the_order_or_exported_twice_is_refused() -> None:
    a = SimpleNamespace(MIGRATIONS=(Migration("0001_a", _noop),))
    b = SimpleNamespace(MIGRATIONS=(Migration("0002_b", _noop),))
    assert [m.name for m in assemble([b, a], ("0001_a", "0002_b"))] == ["0001_a", "0002_b"]
    with pytest.raises(RuntimeError, match="0002_b"):
        assemble([a, b], ("0001_a",))
    with pytest.raises(RuntimeError, match="twice"):
        assemble([a, a], ("0001_a",))
