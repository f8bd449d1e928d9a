"""Hybrid retrieval: `Retriever.search(query, k, filters) -> list[Hit]`.

The query's MiniLM vector finds candidates by a sign-bit scan in vec0, re-ranked by exact cosine on the
stored float vectors; FTS5 (BM25, porter stemming) finds candidates by words. The two ranked lists are
fused by reciprocal rank, 1/(60 + rank). Every hit also carries `relevance`, its exact cosine similarity
to the query, which is what the abstention threshold is calibrated on (RRF scores are ranks, not evidence).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import UsageError
from edgeprompt.rag.store import bits, glob_under

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.embed import Embedder
    from edgeprompt.store.db import Database

RRF_K = 60
POOL = 30  # candidates taken from each side before fusion
MMAP_BYTES = 1 << 30
EXACT_LIMIT = 2000  # filtered searches over at most this many chunks are scored exactly
KINDS = ("markdown", "text", "html", "pdf", "docx", "code", "csv", "json", "email")
STOPWORDS = frozenset(
    """a an and are as at be by can could did do does for from had has have how i if in into is it
its me my of on or our so than that the their them then there these they this to was we were what when where
which who whom why will with would you your about any i'm i've did does much many should""".split()
)


@dataclass(frozen=True)
class Hit:
    path: str
    score: float  # fused rank score (reciprocal-rank fusion); higher is better
    text: str
    location: str
    chunk_id: int
    doc_sha256: str  # the document version this chunk came from
    flagged: bool  # the document was flagged by the firewall's chunk scan
    relevance: float  # cosine similarity of the chunk to the query
    title: str = ""
    context: str = ""  # "Title > Heading > …"
    kind: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Filters:
    path: str | None = None  # glob on the path; a pattern without "/" also matches the file name
    kinds: tuple[str, ...] = ()
    after: float | None = None  # file modified at or after (epoch seconds)
    before: float | None = None
    include_flagged: bool = False  # chunks the firewall flagged are never retrieved unless asked
    within: tuple[str, ...] = ()  # indexed files or folders (absolute paths), e.g. a chat's attachments

    @property
    def narrowing(self) -> bool:
        return bool(self.path or self.kinds or self.within or self.after is not None or self.before is not None)

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Filters:
        """`path=GLOB`, `type=pdf[,markdown…]`, `after=YYYY-MM-DD`, `before=YYYY-MM-DD`."""
        values: dict[str, Any] = {}
        for spec in specs:
            key, sep, value = spec.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep or not value:
                raise UsageError(f"bad filter '{spec}': use path=GLOB, type=KIND, after=DATE or before=DATE")
            if key == "path":
                values["path"] = value
            elif key in ("type", "kind"):
                kinds = tuple(k.strip().lower() for k in value.split(",") if k.strip())
                bad = [k for k in kinds if k not in KINDS]
                if bad:
                    raise UsageError(f"unknown type '{bad[0]}'; types are {', '.join(KINDS)}")
                values["kinds"] = kinds
            elif key in ("after", "before"):
                try:
                    values[key] = datetime.fromisoformat(value).timestamp()
                except ValueError as e:
                    raise UsageError(f"bad date '{value}' in filter {key}= (use YYYY-MM-DD)") from e
            else:
                raise UsageError(f"unknown filter '{key}': use path=, type=, after= or before=")
        return cls(**values)

    def sql(self) -> tuple[str, list[Any]]:
        """A WHERE fragment over rag_chunks c JOIN rag_documents d."""
        where: list[str] = ["1"]
        params: list[Any] = []
        if not self.include_flagged:
            where.append("c.flagged = 0")
        if self.path:
            where.append("(d.path GLOB ? OR d.path GLOB ?)")
            params += [self.path, "*/" + self.path.lstrip("/")]
        if self.within:
            where.append("(" + " OR ".join(["d.path = ? OR d.path GLOB ?"] * len(self.within)) + ")")
            for p in self.within:
                params += [p, glob_under(p)]
        if self.kinds:
            where.append(f"d.kind IN ({','.join('?' * len(self.kinds))})")
            params += list(self.kinds)
        if self.after is not None:
            where.append("d.mtime >= ?")
            params.append(self.after)
        if self.before is not None:
            where.append("d.mtime < ?")
            params.append(self.before)
        return " AND ".join(where), params


def fts_query(text: str) -> str:
    """The question's content words, each quoted, OR-ed (BM25 ranks the chunks that match most)."""
    words = []
    for w in re.findall(r"\w+", text.lower()):
        if w not in STOPWORDS and (len(w) > 1 or w.isdigit()) and w not in words:
            words.append(w)
    return " OR ".join(f'"{w}"' for w in words[:32])


def rrf(*rankings: Sequence[int], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of ranked id lists: score(id) = Σ 1 / (k + rank), rank from 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    def __init__(self, db: Database, embedder: Callable[[], Embedder], candidates: int = 100) -> None:
        self.db = db
        self.embedder = embedder
        self.candidates = candidates
        self.last_timings: dict[str, float] = {}
        # memory-mapped reads: the vector scan reads the whole bit table per query (field notes §3: 1.7×
        # faster at 100k); it maps address space, not memory, and only speeds up reads
        db.query(f"PRAGMA mmap_size={MMAP_BYTES}")

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> list[Hit]:
        filters = filters or Filters()
        if not query.strip() or k < 1:
            return []
        t0 = time.perf_counter()
        emb = self.embedder()
        self._check_model(emb.model_hash)
        q = emb.embed(query)
        t1 = time.perf_counter()
        pool = max(POOL, k)
        allowed = self._allowed(filters) if filters.narrowing else None
        vec = self._vector(q, pool, allowed)
        fts = self._fts(query, pool, filters)
        t2 = time.perf_counter()
        sims = dict(vec)
        fused = rrf([i for i, _ in vec], fts)
        hits = self._hits(fused, sims, q, k, filters)
        self.last_timings = {
            "embed_ms": (t1 - t0) * 1e3,
            "search_ms": (t2 - t1) * 1e3,
            "total_ms": (time.perf_counter() - t0) * 1e3,
        }
        return hits

    # the two candidate lists --------------------------------------------------------------------------------
    def _check_model(self, model_hash: str) -> None:
        row = self.db.query_one("SELECT value FROM rag_meta WHERE key = 'embed_model'")
        if row is not None and row[0] != model_hash:
            raise UsageError(
                "your documents were indexed with another embedding model; run `edgeprompt docs reindex --force`"
            )

    def _allowed(self, filters: Filters) -> set[int]:
        where, params = filters.sql()
        rows = self.db.query(
            f"SELECT c.id FROM rag_chunks c JOIN rag_documents d ON d.id = c.doc_id WHERE {where}", params
        )
        return {r[0] for r in rows}

    def _vector(self, q: np.ndarray, pool: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """(chunk id, cosine) best first: bit-vector KNN, then exact cosine on the float vectors."""
        qf = q.astype("float32").tobytes()
        if allowed is not None and len(allowed) <= EXACT_LIMIT:
            return self._exact(qf, sorted(allowed), pool)
        k = self.candidates if allowed is None else min(4096, self.candidates * 10)
        rows = self.db.query(
            "WITH c AS MATERIALIZED (SELECT rowid, emb_f FROM rag_vec WHERE emb MATCH vec_bit(?) AND k = ?) "
            "SELECT rowid, 1.0 - vec_distance_cosine(emb_f, ?) AS sim FROM c ORDER BY sim DESC",
            (bits(q).tobytes(), k, qf),
        )
        out = [(int(r[0]), float(r[1])) for r in rows if allowed is None or r[0] in allowed]
        return out[:pool]

    def _exact(self, qf: bytes, ids: list[int], pool: int) -> list[tuple[int, float]]:
        scored = []
        for cid in ids:
            row = self.db.query_one(
                "SELECT 1.0 - vec_distance_cosine(emb_f, ?) FROM rag_vec WHERE rowid = ?", (qf, cid)
            )
            if row is not None:
                scored.append((cid, float(row[0])))
        scored.sort(key=lambda t: -t[1])
        return scored[:pool]

    def _fts(self, query: str, pool: int, filters: Filters) -> list[int]:
        match = fts_query(query)
        if not match:
            return []
        if not filters.narrowing:
            # BM25 top-k on the FTS table alone (a join would score every match); flagged chunks are dropped
            # later, with the vector side's
            rows = self.db.query(
                "SELECT rowid FROM rag_fts WHERE rag_fts MATCH ? ORDER BY bm25(rag_fts, 2.0, 1.0) LIMIT ?",
                (match, pool),
            )
            return [int(r[0]) for r in rows]
        where, params = filters.sql()
        rows = self.db.query(
            "SELECT f.rowid FROM rag_fts f JOIN rag_chunks c ON c.id = f.rowid "
            "JOIN rag_documents d ON d.id = c.doc_id "
            f"WHERE rag_fts MATCH ? AND {where} ORDER BY bm25(rag_fts, 2.0, 1.0) LIMIT ?",
            [match, *params, pool],
        )
        return [int(r[0]) for r in rows]

    # fused list -> hits ---------------------------------------------------------------------------------------
    def _hits(
        self, fused: list[tuple[int, float]], sims: dict[int, float], q: np.ndarray, k: int, filters: Filters
    ) -> list[Hit]:
        hits: list[Hit] = []
        qf = q.astype("float32").tobytes()
        for cid, score in fused:
            row = self.db.query_one(
                "SELECT d.path, c.text, c.location, d.sha256, d.flagged, c.flagged, d.title, c.context, d.kind "
                "FROM rag_chunks c JOIN rag_documents d ON d.id = c.doc_id WHERE c.id = ?",
                (cid,),
            )
            if row is None or (row[5] and not filters.include_flagged):
                continue
            if cid not in sims:  # found by words only: measure its similarity too
                sim = self.db.query_one(
                    "SELECT 1.0 - vec_distance_cosine(emb_f, ?) FROM rag_vec WHERE rowid = ?", (qf, cid)
                )
                sims[cid] = float(sim[0]) if sim else 0.0
            hits.append(
                Hit(
                    row[0],
                    round(score, 6),
                    row[1],
                    row[2],
                    cid,
                    row[3],
                    bool(row[4]),
                    round(sims[cid], 4),
                    row[6],
                    row[7],
                    row[8],
                )
            )
            if len(hits) == k:
                break
        return hits
