"""One SQLite database through `sqlean` (extension loading on every Python) with sqlite-vec loaded.

WAL mode, foreign keys on, synchronous=FULL. One `Database` object is shared by all threads of a
process; writes go through `transaction()`, which holds a lock so there is one writer at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgeprompt.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    DiskFullError,
    EdgepromptError,
)

# Written into the file header so a foreign SQLite file is recognised as not ours ("EDGP").
APPLICATION_ID = 0x45444750
BUSY_TIMEOUT_MS = 5000


def translate(e: Exception, path: Path | str = "") -> EdgepromptError:
    """Map a driver error to a domain error with a one-line message."""
    text = str(e).lower()
    if "locked" in text or "busy" in text:
        return DatabaseLockedError(str(path))
    if "disk is full" in text or "database or disk is full" in text:
        return DiskFullError(str(path))
    if "not a database" in text or "malformed" in text or "file is encrypted" in text:
        return CorruptDatabaseError(str(path))
    return EdgepromptError(f"database error: {e}")


def _driver() -> Any:
    import sqlean

    return sqlean


class Database:
    """A connection plus the one-writer lock. Readers use `query`; writers use `transaction`."""

    def __init__(self, conn: Any, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        return (_driver().Error,)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with self._lock:
            try:
                rows: list[Any] = self.conn.execute(sql, params).fetchall()
                return rows
            except _driver().Error as e:
                raise translate(e, self.path) from e

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the outermost transaction commits (now, if none is open); dropped on rollback."""
        with self._lock:
            if self._depth:
                self._after_commit.append(fn)
                return
        fn()

    @contextmanager
    def relaxed(self) -> Iterator[None]:
        """Commits made inside run at synchronous=NORMAL instead of FULL. In WAL mode that is still safe when
        the process is killed; a power cut may lose the newest commits, never consistency. For derived or
        high-rate data whose fsync per commit would dominate: the document index (rebuilt from the files)
        and the audit log's appends. Inside an open transaction it changes nothing (that commit decides)."""
        with self._lock:
            if self._depth or self.conn.in_transaction:
                yield
                return
            before = int(self.conn.execute("PRAGMA synchronous").fetchone()[0])
            self.conn.execute("PRAGMA synchronous=NORMAL")
            try:
                yield
            finally:
                self.conn.execute(f"PRAGMA synchronous={before}")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except _driver().Error as e:
                raise translate(e, self.path) from e
            self._depth = 1
            self._after_commit = []
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as e:
                self._after_commit = []
                try:
                    self.conn.execute("ROLLBACK")
                except _driver().Error:
                    pass
                if isinstance(e, _driver().Error):
                    raise translate(e, self.path) from e
                raise
            finally:
                self._depth = 0
            pending, self._after_commit = self._after_commit, []
            for fn in pending:
                fn()

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(path: Path) -> Database:
    """Open (creating if needed) without migrating; see `edgeprompt.store.migrate.open_db`."""
    import sqlite_vec

    sqlean = _driver()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlean.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlean.Row
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables and app_id != APPLICATION_ID:
            conn.close()
            raise CorruptDatabaseError(f"{path} is a SQLite file but not an edgeprompt database")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise DatabaseLockedError(str(path))
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=FULL")
        if not tables:
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    except sqlean.Error as e:
        raise translate(e, path) from e
    return Database(conn, path)
