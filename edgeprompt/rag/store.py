"""SQL for the document index: documents, chunks, FTS5 (by triggers) and vectors, one file per transaction."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.rag.chunking import DocChunk
    from edgeprompt.store.db import Database


@dataclass(frozen=True)
class DocRow:
    id: int
    path: str
    kind: str
    title: str
    size: int
    mtime: float
    sha256: str
    chunks: int
    flagged: bool
    findings: list[dict[str, Any]]
    indexed_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "title": self.title,
            "type": self.kind,
            "chunks": self.chunks,
            "indexed_at": self.indexed_at,
            "modified_at": self.mtime,
            "size": self.size,
            "sha256": self.sha256,
            "flagged": self.flagged,
            "findings": self.findings,
        }


@dataclass(frozen=True)
class NewDocument:
    path: str
    kind: str
    title: str
    size: int
    mtime: float
    sha256: str
    chunks: Sequence[DocChunk]
    chunk_flags: Sequence[bool]
    findings: Sequence[dict[str, Any]]
    vectors: np.ndarray | None = None  # (len(chunks), 384) float32, unit norm; set just before storing


_DOC_COLS = "id, path, kind, title, size, mtime, sha256, chunks, flagged, findings, indexed_at"


def _doc(r: Any) -> DocRow:
    return DocRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), json.loads(r[9]), r[10])


def bits(vectors: np.ndarray) -> np.ndarray:
    """Sign bits, packed like sqlite-vec's vec_quantize_binary (little bit order)."""
    import numpy as np

    return np.packbits(vectors > 0, axis=-1, bitorder="little")


class DocumentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # meta and sources --------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.query_one("SELECT value FROM rag_meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT OR REPLACE INTO rag_meta(key, value) VALUES (?, ?)", (key, value))

    def add_source(self, path: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT OR IGNORE INTO rag_sources(path, added_at) VALUES (?, ?)", (path, time.time()))

    def sources(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT path FROM rag_sources ORDER BY path")]

    def remove_source(self, path: str) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM rag_sources WHERE path = ? OR path GLOB ?", (path, glob_under(path)))

    # documents -------------------------------------------------------------------------------------------
    def document(self, path: str) -> DocRow | None:
        row = self.db.query_one(f"SELECT {_DOC_COLS} FROM rag_documents WHERE path = ?", (path,))
        return _doc(row) if row else None

    def documents(self, under: str | None = None) -> list[DocRow]:
        if under is None:
            rows = self.db.query(f"SELECT {_DOC_COLS} FROM rag_documents ORDER BY path")
        else:
            rows = self.db.query(
                f"SELECT {_DOC_COLS} FROM rag_documents WHERE path = ? OR path GLOB ? ORDER BY path",
                (under, glob_under(under)),
            )
        return [_doc(r) for r in rows]

    def count(self) -> tuple[int, int]:
        row = self.db.query_one("SELECT count(*), coalesce(sum(chunks), 0) FROM rag_documents")
        return int(row[0]), int(row[1])

    def chunks_of(self, doc_id: int) -> list[Any]:
        return self.db.query(
            "SELECT id, seq, context, text, location, flagged FROM rag_chunks WHERE doc_id = ? ORDER BY seq", (doc_id,)
        )

    def touch(self, doc_id: int, size: int, mtime: float) -> None:
        """Same content, new timestamp: remember it so the next run skips the file without reading it."""
        with self.db.transaction() as c:
            c.execute("UPDATE rag_documents SET size = ?, mtime = ? WHERE id = ?", (size, mtime, doc_id))

    def vectors_for(self, hashes: Iterable[str]) -> dict[str, bytes]:
        """Stored float vectors of chunks with these content hashes (embeddings are never recomputed)."""
        out: dict[str, bytes] = {}
        for h in set(hashes):
            row = self.db.query_one("SELECT id FROM rag_chunks WHERE sha256 = ? LIMIT 1", (h,))
            if row is None:
                continue
            vec = self.db.query_one("SELECT emb_f FROM rag_vec WHERE rowid = ?", (row[0],))
            if vec is not None and vec[0] is not None:
                out[h] = vec[0]
        return out

    def replace(self, doc: NewDocument) -> int:
        """Swap in a document's new version in one transaction: readers see the old or the new, never half.
        The index is derived from the files, so its commits skip the fsync (`Database.relaxed`): a killed
        process still loses at most the file in progress."""
        assert doc.vectors is not None
        b = bits(doc.vectors)
        with self.db.relaxed(), self.db.transaction() as c:
            old = c.execute("SELECT id FROM rag_documents WHERE path = ?", (doc.path,)).fetchone()
            if old is not None:
                _delete_doc(c, old[0])
            cur = c.execute(
                "INSERT INTO rag_documents(path, kind, title, size, mtime, sha256, chunks, flagged, findings, "
                "indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    doc.path,
                    doc.kind,
                    doc.title,
                    doc.size,
                    doc.mtime,
                    doc.sha256,
                    len(doc.chunks),
                    int(bool(doc.findings)),
                    json.dumps(list(doc.findings)),
                    time.time(),
                ),
            )
            doc_id = int(cur.lastrowid)
            for i, ch in enumerate(doc.chunks):
                cid = c.execute(
                    "INSERT INTO rag_chunks(doc_id, seq, context, text, line_start, line_end, page, location, "
                    "sha256, flagged) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        doc_id,
                        ch.seq,
                        ch.context,
                        ch.text,
                        ch.line_start,
                        ch.line_end,
                        ch.page,
                        ch.location,
                        ch.sha256,
                        int(doc.chunk_flags[i]),
                    ),
                ).lastrowid
                c.execute(
                    "INSERT INTO rag_vec(rowid, emb, emb_f) VALUES (?, vec_bit(?), ?)",
                    (cid, b[i].tobytes(), doc.vectors[i].tobytes()),
                )
        return doc_id

    def delete(self, paths: Iterable[str]) -> int:
        n = 0
        with self.db.transaction() as c:
            for p in paths:
                row = c.execute("SELECT id FROM rag_documents WHERE path = ?", (p,)).fetchone()
                if row is not None:
                    _delete_doc(c, row[0])
                    n += 1
        return n


def _delete_doc(c: Any, doc_id: int) -> None:
    ids = [r[0] for r in c.execute("SELECT id FROM rag_chunks WHERE doc_id = ?", (doc_id,))]
    for cid in ids:
        c.execute("DELETE FROM rag_vec WHERE rowid = ?", (cid,))
    c.execute("DELETE FROM rag_chunks WHERE doc_id = ?", (doc_id,))  # the trigger keeps FTS in step
    c.execute("DELETE FROM rag_documents WHERE id = ?", (doc_id,))


def glob_under(folder: str) -> str:
    """A GLOB pattern for everything below `folder` (glob metacharacters in the name escaped)."""
    escaped = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in folder.rstrip(os.sep))
    return escaped + os.sep + "*"
