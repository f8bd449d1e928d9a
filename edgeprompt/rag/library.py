"""The user's document library as one runtime part: its store, indexer and retriever, sharing one database
and the (lazily loaded) embedder. The composition root (`Runtime.documents()`) builds it on first use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.rag.index import Indexer, Scanner
from edgeprompt.rag.parsing import ParseLimits
from edgeprompt.rag.retrieve import Retriever
from edgeprompt.rag.store import DocumentStore

if TYPE_CHECKING:
    from edgeprompt.embed import Embedder
    from edgeprompt.store.db import Database


@dataclass(frozen=True)
class RagSettings:
    top_k: int
    min_relevance: float
    min_evidence: float
    candidates: int
    max_file_mb: float
    chunk_chars: int
    overlap_chars: int
    embed_batch: int
    answer_from_documents: bool
    limits: ParseLimits
    judge: bool = True  # the answerability judge (edgeprompt.rag.answerable) decides, and answers are short

    @classmethod
    def of(cls, section: Any) -> RagSettings:
        return cls(
            int(section["top_k"]),
            float(section["min_relevance"]),
            float(section["min_evidence"]),
            int(section["candidates"]),
            float(section["max_file_mb"]),
            int(section["chunk_chars"]),
            int(section["overlap_chars"]),
            int(section["embed_batch"]),
            bool(section["answer_from_documents"]),
            ParseLimits(float(section["parse_timeout_s"]), int(section["parse_memory_mb"])),
            bool(section.get("judge", True)),
        )


class Library:
    def __init__(
        self, db: Database, section: Mapping[str, Any], embedder: Callable[[], Embedder], scanner: Scanner | None
    ) -> None:
        """`embedder` and `scanner` load their models on first use (`docs list` or a search loads neither)."""
        self.settings = RagSettings.of(section)
        self.store = DocumentStore(db)
        s = self.settings
        self.indexer = Indexer(
            self.store,
            embedder,
            scanner,
            max_bytes=int(s.max_file_mb * 1e6),
            max_chars=s.chunk_chars,
            overlap=s.overlap_chars,
            batch_chunks=s.embed_batch,
            limits=s.limits,
        )
        self.retriever = Retriever(db, embedder, candidates=s.candidates)

    def has_documents(self) -> bool:
        return self.store.db.query_one("SELECT 1 FROM rag_documents LIMIT 1") is not None
