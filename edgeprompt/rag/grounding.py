"""The pipeline's retrieval stage in one call: decide whether documents are used, rewrite a follow-up,
search, abstain when nothing is relevant enough, and keep the best chunks as numbered sources."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import Document, Message
from edgeprompt.rag.answerable import EVIDENCE_ONLY
from edgeprompt.rag.answerable import judge_question as answerability
from edgeprompt.rag.extract import Embed, score
from edgeprompt.rag.prompting import ABSTAIN_TEXT, NO_DOCUMENTS_TEXT, NO_MODEL_TEXT, TOY_ONLY_TEXT, sources_block
from edgeprompt.rag.retrieve import Filters, Hit
from edgeprompt.rag.rewrite import rewrite

if TYPE_CHECKING:
    from edgeprompt.rag.library import Library

SOURCES_SHARE = 0.5  # at most this share of the context window goes to sources
_CITE = re.compile(r"\[(\d{1,2})\]")
# A question about the user's own things ("my lease", "when did I…") must be answered from the documents or
# not at all; "hello" or "what is the capital of France" may be answered without them. Similarity alone
# cannot tell the two apart ("hello" 0.19 vs "my passport number" 0.20), the wording can.
_PERSONAL = re.compile(
    r"\b(?:(?i:my|mine|our|ours|myself|i(?:'m|'ve|'d|'ll)?|we(?:'re|'ve)?)|"
    r"(?<!(?i:tell|give|show|help) )(?<!(?i:let) )(?i:me)|us)\b"
)  # "us", not "US"


_TO_ASSISTANT = re.compile(r"\byou\b", re.I)


def asks_about_own_documents(question: str, route_tag: str = "") -> bool:
    """True when the question is about the user's own files or life, so only the documents may answer it.
    A request to the assistant whose only personal word is "me"/"us" ("What can you do for me?") is not."""
    if route_tag == "documents":
        return True
    found = {m.group().lower() for m in _PERSONAL.finditer(question)}
    return bool(found) and not (found <= {"me", "us"} and _TO_ASSISTANT.search(question))


def is_fixed_abstention(answer: str) -> bool:
    """The fixed answers that say no answer was found ("not in your documents", "no model", …): an abstention
    wherever the text comes from, the cache included."""
    return answer.strip() in (ABSTAIN_TEXT, NO_DOCUMENTS_TEXT, NO_MODEL_TEXT, TOY_ONLY_TEXT)


@dataclass(frozen=True)
class Grounding:
    used: bool  # documents were searched for this request
    query: str = ""
    hits: tuple[Hit, ...] = ()
    documents: tuple[Document, ...] = ()
    abstained: bool = False
    best_relevance: float = 0.0  # cosine of the best chunk
    evidence: float = 0.0  # score of the best sentence (edgeprompt.rag.extract)
    answerability: float = 0.0  # the judge's probability that a sentence answers the asked attribute
    reason: str = ""  # why documents were not used, or why the answer abstains
    notices: tuple[str, ...] = field(default=())

    def message(self) -> Message | None:
        """The sources as a system message placed after the system prompt (None when there are none)."""
        return Message("system", sources_block(self.documents)) if self.documents else None

    def citations(self, answer: str) -> list[dict[str, Any]]:
        """The numbered sources given to the model; `cited` says which ones the answer cites."""
        if self.abstained:
            return []
        cited = {int(n) for n in _CITE.findall(answer)}
        by_n = {d.n: h for d, h in zip(self.documents, self.hits, strict=False)}
        return [
            {
                "n": d.n,
                "path": d.path,
                "location": d.location,
                "text": _snippet(d.text),
                "score": by_n[d.n].score,
                "relevance": by_n[d.n].relevance,
                "cited": d.n in cited,
                "flagged": by_n[d.n].flagged,
            }
            for d in self.documents
        ]

    def abstains(self, answer: str) -> bool:
        """True when no answer was given from the documents (here, or by the extractive backend)."""
        return self.abstained or is_fixed_abstention(answer)

    def trace_attributes(self) -> dict[str, Any]:
        return {
            "edgeprompt.rag.used": self.used,
            "edgeprompt.rag.rewritten": bool(self.query),
            "edgeprompt.rag.hits": len(self.hits),
            "edgeprompt.rag.sources": len(self.documents),
            "edgeprompt.rag.abstained": self.abstained,
            "edgeprompt.rag.best_relevance": round(self.best_relevance, 4),
            "edgeprompt.rag.evidence": round(self.evidence, 4),
            "edgeprompt.rag.answerability": round(self.answerability, 4),
            "edgeprompt.rag.chunk_ids": [h.chunk_id for h in self.hits[: len(self.documents)]],
            **({"edgeprompt.rag.reason": self.reason} if self.reason else {}),
        }


def _snippet(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def ground(
    lib: Library,
    embed: Embed,
    question: str,
    history: Sequence[Message],
    use_documents: bool | None,
    filters: Filters | None,
    count: Callable[[Sequence[Message]], int],
    context_length: int,
    route_tag: str = "",
) -> Grounding:
    """Sources for the question, or an abstention. With `use_documents=True` the answer must come from the
    documents; with None (auto) only questions about the user's own things abstain, and others that the
    documents do not answer are answered without them. `lib` is your documents' index and retriever; `embed`
    reads the retrieved chunks' sentences (MiniLM)."""
    s = lib.settings
    if use_documents is False or (use_documents is None and not s.answer_from_documents):
        return Grounding(False, reason="documents not requested")
    if not lib.has_documents():
        return Grounding(False, reason="no documents indexed")
    query = rewrite(question, history)
    rewritten = query if query != question else ""
    must = use_documents is True or asks_about_own_documents(query, route_tag)
    hits = lib.retriever.search(query, s.top_k, filters)
    best = max((h.relevance for h in hits), default=0.0)
    if best < s.min_relevance:  # nothing even close: no need to read sentences
        return Grounding(
            True,
            rewritten,
            tuple(hits),
            abstained=must,
            best_relevance=best,
            reason=f"best chunk relevance {best:.2f} < {s.min_relevance:.2f}"
            + ("" if must else "; answered without documents"),
        )
    docs = [Document(i, h.text, h.path, h.location, h.relevance, h.context) for i, h in enumerate(hits, 1)]
    scored = score(query, docs, embed)
    found = max((x.score for x in scored), default=0.0)
    verdict = answerability(query, scored, docs, None if s.judge else EVIDENCE_ONLY)
    if found < s.min_evidence or not verdict.answerable:
        why = (
            f"best sentence evidence {found:.2f} < {s.min_evidence:.2f}"
            if found < s.min_evidence
            else f"answerability {verdict.score:.2f} < {verdict.threshold:.2f} (asked: {verdict.asked.kind}"
            + (f", '{' '.join(verdict.asked.focus)}'" if verdict.asked.focus else "")
            + ")"
        )
        return Grounding(
            True,
            rewritten,
            tuple(hits),
            abstained=must,
            best_relevance=best,
            evidence=found,
            answerability=verdict.score,
            reason=why + ("" if must else "; answered without documents"),
        )
    docs = _fit(docs, count, int(context_length * SOURCES_SHARE))
    notices = tuple(
        f"source [{d.n}] comes from a document the firewall flagged; its flagged parts were left out"
        for d, h in zip(docs, hits, strict=False)
        if h.flagged
    )
    return Grounding(
        True,
        rewritten,
        tuple(hits[: len(docs)]),
        tuple(docs),
        best_relevance=best,
        evidence=found,
        answerability=verdict.score,
        notices=notices,
    )


def _fit(docs: list[Document], count: Callable[[Sequence[Message]], int], budget: int) -> list[Document]:
    """Drop the lowest-ranked sources until the block fits the budget (the first one is always kept)."""
    while len(docs) > 1 and count([Message("system", sources_block(docs))]) > budget:
        docs = docs[:-1]
    return docs


__all__ = ["ABSTAIN_TEXT", "Grounding", "ground"]
