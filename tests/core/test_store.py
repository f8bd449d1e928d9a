from __future__ import annotations

from pathlib import Path

import pytest

from edgeprompt.errors import CorruptDatabaseError, DatabaseLockedError, NewerDatabaseError
from edgeprompt.store.db import connect
from edgeprompt.store.migrate import MIGRATIONS, migrate, open_db
from edgeprompt.store.sql import Migration


def test_open_creates_wal_database_with_every_migration(tmp_path: Path) -> None:
    db = open_db(tmp_path / "e.db")
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    assert db.query_one("PRAGMA foreign_keys")[0] == 1
    names = [r[0] for r in db.query("SELECT name FROM schema_migrations ORDER BY rowid")]
    assert names == [m.name for m in MIGRATIONS]
    assert db.query_one("SELECT vec_version()")[0].startswith("v")
    db.close()


def test_reopen_applies_nothing(tmp_path: Path) -> None:
    open_db(tmp_path / "e.db").close()
    db = connect(tmp_path / "e.db")
    assert migrate(db) == []
    db.close()


def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    db = open_db(path)
    with db.transaction() as c:
        c.execute("INSERT INTO schema_migrations(name, applied_at) VALUES ('9999_from_the_future', 0)")
        c.execute("INSERT INTO sessions(id, title, created_at, updated_at) VALUES ('s1', 'keep me', 0, 0)")
    db.close()
    with pytest.raises(NewerDatabaseError, match="9999_from_the_future"):
        open_db(path)
    db = connect(path)
    assert db.query_one("SELECT title FROM sessions WHERE id = 's1'")[0] == "keep me"
    db.close()


def test_failed_migration_rolls_back_completely(tmp_path: Path) -> None:
    db = open_db(tmp_path / "e.db")

    def broken(conn: object) -> None:
        conn.execute("CREATE TABLE half_done (x)")  # type: ignore[attr-defined]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        migrate(db, (*MIGRATIONS, Migration("0999_broken", broken)))
    assert db.query_one("SELECT name FROM sqlite_master WHERE name = 'half_done'") is None
    assert db.query_one("SELECT name FROM schema_migrations WHERE name = '0999_broken'") is None
    db.close()


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CorruptDatabaseError):
        open_db(path)
    assert path.read_bytes().startswith(b"this is not sqlite")


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    import sqlean

    path = tmp_path / "other.db"
    c = sqlean.connect(str(path))
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    with pytest.raises(CorruptDatabaseError, match="not an edgeprompt database"):
        open_db(path)


def test_locked_database_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeprompt.store.db as dbmod

    path = tmp_path / "e.db"
    open_db(path).close()
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 50)
    holder = connect(path)
    holder.conn.execute("BEGIN EXCLUSIVE")
    other = connect(path)
    with pytest.raises(DatabaseLockedError), other.transaction() as c:
        c.execute("INSERT INTO sessions(id, created_at, updated_at) VALUES ('x', 0, 0)")
    holder.conn.execute("ROLLBACK")
    holder.close()
    other.close()
