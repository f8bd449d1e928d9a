"""The user's document library as one runtime part: its store, indexer and retriever, sharing one database
and the runtime's (lazily loaded) embedder. `Runtime.documents()` builds it on first use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.rag.index import Indexer, Scanner
from edgeprompt.rag.parsing import ParseLimits
from edgeprompt.rag.retrieve import Retriever
from edgeprompt.rag.store import DocumentStore

if TYPE_CHECKING:
    from edgeprompt.app import Runtime


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
        return cls(int(section["top_k"]), float(section["min_relevance"]), float(section["min_evidence"]),
                   int(section["candidates"]),
                   float(section["max_file_mb"]), int(section["chunk_chars"]), int(section["overlap_chars"]),
                   int(section["embed_batch"]), bool(section["answer_from_documents"]),
                   ParseLimits(float(section["parse_timeout_s"]), int(section["parse_memory_mb"])),
                   bool(section.get("judge", True)))


class Library:
    def __init__(self, rt: Runtime, scanner: Scanner | None) -> None:
        self.settings = RagSettings.of(rt.settings.section("rag"))
        self.store = DocumentStore(rt.db)
        s = self.settings
        self.indexer = Indexer(self.store, rt.embedder, scanner, max_bytes=int(s.max_file_mb * 1e6),
                               max_chars=s.chunk_chars, overlap=s.overlap_chars, batch_chunks=s.embed_batch,
                               limits=s.limits)
        self.retriever = Retriever(rt.db, rt.embedder, candidates=s.candidates)

    @classmethod
    def open(cls, rt: Runtime) -> Library:
        # The firewall's chunk scanner (issue 4) flags injected instructions; it is built on the first chunk
        # scanned, so `docs list` or a search does not load the firewall's models.
        scanner = (lambda text: rt.chunk_scanner()(text)) if hasattr(rt, "chunk_scanner") else None
        return cls(rt, scanner)

    def has_documents(self) -> bool:
        return self.store.db.query_one("SELECT 1 FROM rag_documents LIMIT 1") is not None
