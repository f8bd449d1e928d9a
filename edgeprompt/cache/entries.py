"""SQL for cached answers: one row per answer, its sources, and its question vector (vec0, bits + float)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.cache.keys import CacheQuery
    from edgeprompt.store.db import Database

CANDIDATES = 32  # bit-scan candidates re-ranked by exact cosine; near duplicates are never far in Hamming


@dataclass(frozen=True)
class Entry:
    id: int
    exact_key: str
    model_key: str
    prompt_version: str
    context_hash: str
    docs_hash: str
    params_hash: str
    question: str
    answer: str
    source: str
    trace_id: str | None
    prompt_tokens: int
    completion_tokens: int
    generation_ms: float
    created_at: float

    @property
    def age_s(self) -> float:
        return max(0.0, time.time() - self.created_at)


_COLS = (
    "id, exact_key, model_key, prompt_version, context_hash, docs_hash, params_hash, question, answer, source, "
    "trace_id, prompt_tokens, completion_tokens, generation_ms, created_at"
)


def _entry(r: Any) -> Entry:
    return Entry(*tuple(r))


def _bits(vec: np.ndarray) -> bytes:
    import numpy as np

    return np.packbits(vec > 0, bitorder="little").tobytes()


class EntryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # reads ----------------------------------------------------------------------------------------------
    def by_key(self, exact_key: str) -> Entry | None:
        r = self.db.query_one(f"SELECT {_COLS} FROM cache_entries WHERE exact_key = ?", (exact_key,))
        return _entry(r) if r else None

    def get(self, entry_id: int) -> Entry | None:
        r = self.db.query_one(f"SELECT {_COLS} FROM cache_entries WHERE id = ?", (entry_id,))
        return _entry(r) if r else None

    def candidates(self, vec: np.ndarray, scope: int | None, limit: int = 5) -> list[Any]:
        """(rowid, cosine similarity) of the vectors closest to `vec`, within `scope` (see `keys.scope`) if
        given: a bit scan for CANDIDATES, re-ranked by the exact cosine of their float vectors."""
        where, scoped = (" AND scope = ?", (scope,)) if scope is not None else ("", ())
        return self.db.query(
            "WITH c AS MATERIALIZED (SELECT rowid, embedding FROM cache_vectors "
            f"WHERE bits MATCH vec_bit(?) AND k = ?{where}) "
            "SELECT rowid, 1.0 - vec_distance_cosine(embedding, ?) AS sim FROM c ORDER BY sim DESC LIMIT ?",
            (_bits(vec), CANDIDATES, *scoped, vec.astype("float32").tobytes(), limit),
        )

    def nearest(self, vec: np.ndarray, scope: int | None, limit: int = 5) -> list[tuple[Entry, float]]:
        """Entries whose question is closest to `vec` (cosine), within `scope` if given."""
        out = []
        for rowid, sim in self.candidates(vec, scope, limit):
            e = self.get(int(rowid))
            if e is not None:
                out.append((e, float(sim)))
        return out

    def vector(self, entry_id: int) -> np.ndarray | None:
        """An entry's stored question vector (float32), for the pair verifier."""
        import numpy as np

        r = self.db.query_one("SELECT embedding FROM cache_vectors WHERE rowid = ?", (entry_id,))
        return None if r is None else np.frombuffer(r[0], dtype=np.float32)

    def by_question(self, normalised: str, model_prefix: str, newer_than: float) -> Entry | None:
        rows = self.db.query(
            f"SELECT {_COLS} FROM cache_entries WHERE model_key LIKE ? AND created_at >= ? ORDER BY created_at DESC",
            (model_prefix.replace("%", "") + "%", newer_than),
        )
        from edgeprompt.cache.keys import normalise

        return next((_entry(r) for r in rows if normalise(r["question"]) == normalised), None)

    def blocked(self, exact_key: str) -> bool:
        return self.db.query_one("SELECT 1 FROM cache_blocked WHERE exact_key = ?", (exact_key,)) is not None

    def sources_current(self, entry_id: int) -> bool:
        """False when a document an entry was written from has changed or gone since (checked at hit time)."""
        has_docs = self.db.query_one("SELECT 1 FROM sqlite_master WHERE name = 'rag_documents'")
        if not has_docs:
            return True
        stale = self.db.query_one(
            "SELECT 1 FROM cache_entry_sources s LEFT JOIN rag_documents d ON d.path = s.path "
            "WHERE s.entry_id = ? AND (d.sha256 IS NULL OR d.sha256 != s.doc_sha256) LIMIT 1",
            (entry_id,),
        )
        return stale is None

    def sizes(self) -> dict[str, int]:
        r = self.db.query_one(
            "SELECT count(*), coalesce(sum(length(CAST(question AS BLOB)) + "
            "length(CAST(answer AS BLOB)) + 256), 0) FROM cache_entries"
        )
        v = self.db.query_one("SELECT count(*) FROM cache_vectors")
        return {
            "entries": int(r[0]),
            "entry_bytes": int(r[1]),
            "vectors": int(v[0]),
            "vector_bytes": int(v[0]) * (48 + 384 * 4),
        }

    # writes ---------------------------------------------------------------------------------------------
    def put(
        self,
        q: CacheQuery,
        answer: str,
        vec: np.ndarray | None,
        source: str,
        trace_id: str | None,
        usage: tuple[int, int],
        generation_ms: float,
    ) -> int:
        now = time.time()
        with self.db.transaction() as c:
            c.execute("DELETE FROM cache_entries WHERE exact_key = ?", (q.exact_key,))
            entry_id = int(
                c.execute(
                    "INSERT INTO cache_entries(exact_key, model_key, prompt_version, context_hash, params_hash, "
                    "docs_hash, question, answer, source, trace_id, sampled, prompt_tokens, completion_tokens, "
                    "generation_ms, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        q.exact_key,
                        q.model_key,
                        q.prompt_version,
                        q.context_hash,
                        q.params_hash,
                        q.docs_hash,
                        q.question,
                        answer,
                        source,
                        trace_id,
                        int(q.sampled),
                        usage[0],
                        usage[1],
                        generation_ms,
                        now,
                    ),
                ).lastrowid
            )
            c.executemany(
                "INSERT INTO cache_entry_sources(entry_id, path, chunk_id, doc_sha256) VALUES (?,?,?,?)",
                [(entry_id, s.path, s.chunk_id, s.doc_sha256) for s in q.sources],
            )
            if vec is not None:
                c.execute(
                    "INSERT INTO cache_vectors(rowid, bits, scope, embedding) VALUES (?, vec_bit(?), ?, ?)",
                    (entry_id, _bits(vec), q.scope, vec.astype("float32").tobytes()),
                )
        return entry_id

    def touch(self, entry_ids: Sequence[int], when: float) -> None:
        if entry_ids:
            with self.db.transaction() as c:
                c.executemany(
                    "UPDATE cache_entries SET hits = hits + 1, last_hit_at = ? WHERE id = ?",
                    [(when, i) for i in entry_ids],
                )

    def delete(self, entry_ids: Iterable[int]) -> int:
        ids = list(entry_ids)
        with self.db.transaction() as c:
            c.executemany("DELETE FROM cache_entries WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    def delete_for_paths(self, paths: Iterable[str]) -> int:
        ps = list(paths)
        if not ps:
            return 0
        marks = ",".join("?" * len(ps))
        rows = self.db.query(f"SELECT DISTINCT entry_id FROM cache_entry_sources WHERE path IN ({marks})", ps)
        return self.delete(r[0] for r in rows)

    def expire(self, older_than: float) -> int:
        with self.db.transaction() as c:
            return int(c.execute("DELETE FROM cache_entries WHERE created_at < ?", (older_than,)).rowcount)

    def clear_vectors(self) -> int:
        with self.db.transaction() as c:
            return int(c.execute("DELETE FROM cache_vectors").rowcount)

    def clear(self) -> int:
        with self.db.transaction() as c:
            n = int(c.execute("DELETE FROM cache_entries").rowcount)
            c.execute("DELETE FROM cache_vectors")
        return n

    # counters -------------------------------------------------------------------------------------------
    def add_counters(self, deltas: dict[str, dict[str, float]]) -> None:
        with self.db.transaction() as c:
            for level, d in deltas.items():
                c.execute("INSERT OR IGNORE INTO cache_counters(level) VALUES (?)", (level,))
                c.execute(
                    "UPDATE cache_counters SET hits = hits + ?, misses = misses + ?, vetoes = vetoes + ?, "
                    "tokens_saved = tokens_saved + ?, seconds_saved = seconds_saved + ? WHERE level = ?",
                    (
                        int(d.get("hits", 0)),
                        int(d.get("misses", 0)),
                        int(d.get("vetoes", 0)),
                        int(d.get("tokens_saved", 0)),
                        float(d.get("seconds_saved", 0.0)),
                        level,
                    ),
                )

    def counters(self) -> dict[str, dict[str, float]]:
        rows = self.db.query("SELECT level, hits, misses, vetoes, tokens_saved, seconds_saved FROM cache_counters")
        return {
            r[0]: {"hits": r[1], "misses": r[2], "vetoes": r[3], "tokens_saved": r[4], "seconds_saved": r[5]}
            for r in rows
        }

    def reset_counters(self, levels: Sequence[str]) -> None:
        with self.db.transaction() as c:
            c.executemany("DELETE FROM cache_counters WHERE level = ?", [(lv,) for lv in levels])
