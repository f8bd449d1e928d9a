"""Sentence evidence: which sentences of the sources answer the question, and how well.

Each source is cut into sentences (and lines, for lists, tables and records). Every sentence is embedded
with its source's heading path ("Lisbon trip > Hotel: Check-in from 15:00") so it keeps its subject, and
scores its cosine similarity to the question plus a bonus for sharing the question's content words.

The extractive answer quotes the best sentence and up to two nearly as good; the grounding stage uses
the best score as evidence: no sentence scoring at least `MIN_EVIDENCE` means the documents do not
answer the question. The weights and the threshold were calibrated on samples/eval/questions.jsonl
(a plateau: 0.54-0.60 all give 0.85 abstention with 3% false abstentions there).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgeprompt.backends.base import Document
from edgeprompt.rag.prompting import ABSTAIN_TEXT
from edgeprompt.rag.retrieve import STOPWORDS

if TYPE_CHECKING:
    import numpy as np

Embed = Callable[[list[str]], "np.ndarray"]

W_LEXICAL = 0.25  # per share of the question's content words found in the sentence
MIN_EVIDENCE = 0.58
NEAR = 0.06  # other sentences quoted when within this of the best
MAX_QUOTES = 3
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(“])")
# A line that stands on its own: list item, table row, heading, or a "Label: value" record line.
_STRUCTURAL = re.compile(r"^\s*(?:[-*•+]\s|\d+[.)]\s|\||#|[A-Za-z][\w /()'-]{0,40}:(?:\s|$))")
_WORD = re.compile(r"\w+")
# framing lines, never an answer (an e-mail's subject is already its heading path)
_SKIP = re.compile(r"^(from|to|cc|subject|message-id|columns):", re.I)
_ABBREV = re.compile(r"\b(Dr|Mr|Mrs|Ms|Prof|St|No|Nr|Apt|Inc|Ltd|vs|e\.g|i\.e|etc|approx)\.$", re.I)


@dataclass(frozen=True)
class Scored:
    n: int  # the source's number
    text: str
    score: float
    # the sentence's MiniLM vector behind the score: the support check (edgeprompt.rag.support) reuses it
    vector: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)


def _blocks(text: str) -> list[str]:
    """Lines joined back into the paragraphs they were wrapped from: a break ends a block after a blank line,
    a sentence end, or a structural line, or before one. "It is returned within\n21 days" stays one block."""
    blocks: list[str] = []
    joinable = False  # whether the next line may continue the last block
    for line in text.splitlines():
        if not line.strip():
            joinable = False
            continue
        structural = bool(_STRUCTURAL.match(line))
        if joinable and not structural:
            blocks[-1] += " " + line.strip()
        else:
            blocks.append(line.strip())
        joinable = not structural and not line.rstrip().endswith((".", "!", "?", ":", ";"))
    return blocks


def sentences(text: str) -> list[str]:
    pieces: list[str] = []
    for block in _blocks(text):
        for piece in _SPLIT.split(block):
            if pieces and _ABBREV.search(pieces[-1]):  # "Dr." did not end the sentence
                pieces[-1] += " " + piece
            else:
                pieces.append(piece)
    out = []
    for piece in pieces:
        s = " ".join(piece.split()).strip(" -*|")
        if len(_WORD.findall(s)) >= 3:
            out.append(s)
    return out


def terms(text: str) -> set[str]:
    """Content words, cut to 6 letters as a cheap stemmer (deductible ~ deduct, insurance ~ insura)."""
    return {w[:6] for w in _WORD.findall(text.lower()) if (w not in STOPWORDS and len(w) > 2) or w.isdigit()}


_cache: OrderedDict[tuple[str, tuple[str, ...]], list[Scored]] = OrderedDict()
_lock = threading.Lock()


def score(question: str, documents: Sequence[Document], embed: Embed) -> list[Scored]:
    """Every sentence of the sources, scored against the question (memoised for the last few requests)."""
    key = (question, tuple(f"{d.n}\x00{d.context}\x00{d.text}" for d in documents))
    with _lock:
        if key in _cache:
            return _cache[key]
    units = [(d, s) for d in documents for s in sentences(d.text) if not _SKIP.match(s)]
    if not units:
        return []
    vecs = embed([question, *(f"{d.context}: {s}" if d.context else s for d, s in units)])
    sims = vecs[1:] @ vecs[0]
    q_terms = terms(question)
    out = []
    for (d, s), sim, vec in zip(units, sims, vecs[1:], strict=True):
        overlap = len(q_terms & terms(s)) / len(q_terms) if q_terms else 0.0
        out.append(Scored(d.n, s, float(sim) + W_LEXICAL * overlap, vec))
    with _lock:
        _cache[key] = out
        while len(_cache) > 8:
            _cache.popitem(last=False)
    return out


def forget() -> None:
    """Empty the memo of scored sentences (a benchmark timing two configurations must not share it)."""
    with _lock:
        _cache.clear()


def evidence(question: str, documents: Sequence[Document], embed: Embed) -> float:
    """How well the best sentence of the sources answers the question."""
    return max((s.score for s in score(question, documents, embed)), default=0.0)


def answer(question: str, documents: Sequence[Document], embed: Embed, min_score: float = MIN_EVIDENCE) -> str:
    scored = score(question, documents, embed)
    if not scored:
        return ABSTAIN_TEXT
    best = max(s.score for s in scored)
    if best < min_score:
        return ABSTAIN_TEXT
    top = sorted(scored, key=lambda s: -s.score)[:MAX_QUOTES]
    return quoted("From your documents:", scored, [s for s in top if s.score >= best - NEAR])


def quoted(header: str, scored: Sequence[Scored], chosen: Sequence[Scored]) -> str:
    """The `chosen` sentences of `scored` in reading order, one a line with its source's [n], under `header`."""
    ordered = sorted(chosen, key=lambda s: (s.n, scored.index(s)))
    return header + "\n" + "\n".join(f"- {s.text} [{s.n}]" for s in ordered)
