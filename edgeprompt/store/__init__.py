"""The SQLite store: `open_db(path)`, the migrations, and one store class per table family."""

from edgeprompt.store.db import Database, connect, open_db

__all__ = ["Database", "connect", "open_db"]
