"""DDL of the document index (migrations 01xx).

- `rag_sources`: the files and folders the user added (re-walked by `docs reindex` and the watcher).
- `rag_documents`: one row per indexed file, with its content hash (skip unchanged files) and `flagged`.
- `rag_chunks`: the chunks with provenance; the hash of each chunk's embedding input lets unchanged
  chunks keep their vectors.
- `rag_fts`: FTS5 *external content* over rag_chunks (the text is stored once), kept in sync by triggers.
- `rag_vec`: vec0 with a 48-byte sign-bit vector for the coarse scan and the float32 vector in an
  auxiliary column for the exact re-rank (field notes §3b: ~20× faster than a float scan, recall ≈1).
"""

from __future__ import annotations

from typing import Any

from edgeprompt.store.sql import Migration, run_script


def documents(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE rag_sources (
            path TEXT PRIMARY KEY,
            added_at REAL NOT NULL
        );
        CREATE TABLE rag_documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            sha256 TEXT NOT NULL,
            chunks INTEGER NOT NULL DEFAULT 0,
            flagged INTEGER NOT NULL DEFAULT 0,
            findings TEXT NOT NULL DEFAULT '[]',
            indexed_at REAL NOT NULL
        );
        CREATE INDEX rag_documents_mtime ON rag_documents(mtime);
        CREATE TABLE rag_chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            doc_id INTEGER NOT NULL REFERENCES rag_documents(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            context TEXT NOT NULL,
            text TEXT NOT NULL,
            line_start INTEGER,
            line_end INTEGER,
            page INTEGER,
            location TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            flagged INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX rag_chunks_doc ON rag_chunks(doc_id, seq);
        CREATE INDEX rag_chunks_hash ON rag_chunks(sha256);
        CREATE VIRTUAL TABLE rag_fts USING fts5(
            context, text, content='rag_chunks', content_rowid='id', tokenize='porter unicode61'
        );
        CREATE TRIGGER rag_chunks_ai AFTER INSERT ON rag_chunks BEGIN
            INSERT INTO rag_fts(rowid, context, text) VALUES (new.id, new.context, new.text);
        END;
        CREATE TRIGGER rag_chunks_ad AFTER DELETE ON rag_chunks BEGIN
            INSERT INTO rag_fts(rag_fts, rowid, context, text) VALUES ('delete', old.id, old.context, old.text);
        END;
        CREATE TRIGGER rag_chunks_au AFTER UPDATE OF context, text ON rag_chunks BEGIN
            INSERT INTO rag_fts(rag_fts, rowid, context, text) VALUES ('delete', old.id, old.context, old.text);
            INSERT INTO rag_fts(rowid, context, text) VALUES (new.id, new.context, new.text);
        END;
        CREATE VIRTUAL TABLE rag_vec USING vec0(emb bit[384], +emb_f blob);
        CREATE TABLE rag_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )


# this area's migrations (edgeprompt.store.migrate applies them in its one order; shipped names never change)
MIGRATIONS = (Migration("0101_documents", documents),)
