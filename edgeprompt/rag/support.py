"""The support check: is each sentence of a generated answer backed by the sources it was given?

The answerability judge decides before generation whether the sources answer at all; a model may still
add what no source says (a made-up fee, a date from its training). Every claim of the answer (a sentence
with at least MIN_TERMS content words) is compared with the sentences of the sources it cites (all
sources when it cites none): it is supported when each number it states appears in those sources and
its content words are covered by them, or it closely paraphrases one source sentence (MiniLM cosine).
A number the sources do not hold is never supported, however similar the wording: that is the
hallucination users notice. Unsupported sentences are marked in the answer, and counted in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgeprompt.backends.base import Document
from edgeprompt.rag.extract import Embed, score, terms

MIN_TERMS = 3  # shorter sentences ("Here is what I found:") make no claim to check
MIN_COVERAGE = 0.6  # share of the claim's content words found in its cited sources
MIN_COSINE = 0.75  # or this close to one sentence of them (a paraphrase)
MARK = "[not supported by your documents]"
_CITE = re.compile(r"\s*\[(\d{1,2})\]")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Claim:
    text: str  # the sentence as the answer has it (citations included)
    cited: tuple[int, ...]  # the sources it cites; () when it cites none
    supported: bool
    coverage: float  # share of its content words in the sources it was checked against
    cosine: float  # similarity to the closest sentence of those sources
    missing_numbers: tuple[str, ...] = ()  # numbers it states that those sources do not


@dataclass(frozen=True)
class Support:
    answer: str  # the answer with each unsupported sentence marked
    claims: tuple[Claim, ...]

    @property
    def unsupported(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if not c.supported)

    def notice(self) -> str | None:
        n = len(self.unsupported)
        if not n:
            return None
        return (
            f"{n} sentence{'s' if n > 1 else ''} of the answer {'are' if n > 1 else 'is'} not supported by "
            f"the documents it cites; marked {MARK}"
        )

    def trace_attributes(self) -> dict[str, Any]:
        return {
            "edgeprompt.support.claims": len(self.claims),
            "edgeprompt.support.unsupported": len(self.unsupported),
            "edgeprompt.support.unsupported_text": [c.text[:120] for c in self.unsupported][:5],
        }


def _numbers(text: str) -> set[str]:
    return {m.group().replace(",", "") for m in _NUMBER.finditer(text)}


def claims(answer: str) -> list[str]:
    """The answer's sentences, in order (lines and sentence ends both break)."""
    return [s.strip() for s in _SPLIT.split(answer) if s and s.strip()]


def check(question: str, answer: str, documents: Sequence[Document], embed: Embed) -> Support:
    """Each claim of `answer` checked against the sources it cites (see the module's docstring)."""
    import numpy as np

    pieces = claims(answer)
    bare = [_CITE.sub("", p).strip() for p in pieces]
    # a question the answer repeats or asks back claims nothing
    todo = [i for i, b in enumerate(bare) if len(terms(b)) >= MIN_TERMS and not b.endswith("?")]
    if not documents or not todo:
        return Support(answer, ())
    by_n = {d.n: d for d in documents}
    # the sources' sentences as sentence evidence scored them for the question (memoised: no new model run)
    scored = score(question, documents, embed)
    vecs = embed([bare[i] for i in todo])
    out: dict[int, Claim] = {}
    for i, v in zip(todo, vecs, strict=True):
        cited = tuple(int(n) for n in _CITE.findall(pieces[i]) if int(n) in by_n)
        against = [by_n[n] for n in cited] if cited else list(documents)
        text = " ".join(f"{d.context} {d.text}" for d in against)
        words = terms(bare[i])
        coverage = len(words & terms(text)) / len(words)
        near = [s.vector for s in scored if s.n in {d.n for d in against} and s.vector is not None]
        cosine = float(np.max(np.stack(near) @ v)) if near else 0.0
        missing = tuple(sorted(_numbers(bare[i]) - _numbers(text)))
        ok = not missing and (coverage >= MIN_COVERAGE or cosine >= MIN_COSINE)
        out[i] = Claim(pieces[i], cited, ok, round(coverage, 3), round(cosine, 3), missing)
    marked: list[str] = []
    cursor = 0
    for i, piece in enumerate(pieces):  # each sentence found after the previous one: repeats stay apart
        at = answer.find(piece, cursor)
        end = at + len(piece)
        marked.append(answer[cursor:end] + (f" {MARK}" if i in out and not out[i].supported else ""))
        cursor = end
    marked.append(answer[cursor:])
    return Support("".join(marked), tuple(out[i] for i in sorted(out)))


__all__ = ["MARK", "Claim", "Support", "check", "claims"]
