from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeprompt.store.audit import AuditLog
from edgeprompt.store.migrate import open_db


def test_audit_head_moves_only_when_the_callers_transaction_commits(tmp_path: Path) -> None:
    db = open_db(tmp_path / "e.db")
    log = AuditLog(db)
    log.append("first", {"n": 1})
    with pytest.raises(RuntimeError), db.transaction():
        log.append("inside", {"n": 2})
        raise RuntimeError("the caller's work failed after the append")
    assert log.verify().ok  # neither the entry nor the head anchor moved
    with db.transaction():
        log.append("inside", {"n": 2})
        assert json.loads(log.anchor.read_text())["seq"] == 1  # not committed yet: the head stays on entry 1
    assert json.loads(log.anchor.read_text())["seq"] == 2
    result = log.verify()
    assert result.ok and result.entries == 2
    db.close()
