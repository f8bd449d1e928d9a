"""The answerability judge: does a sentence of the sources answer *the asked attribute*, and with what?

Sentence evidence (edgeprompt.rag.extract) says how close a sentence is to the question; near misses are
close too ("the Osaka hotel" is in the notes, its check-out time is not). For the best few sentences the
judge adds what evidence cannot see, from edgeprompt.rag.asked:
- focus: the share of the asked attribute's words ("check-out", "time") in the sentence or its headings;
- typed: whether the sentence holds a value of the asked kind (a time for "what time", a code for
  "tracking number", a name for "who");
- missing: the share of the question's content words found nowhere in the source (a wrong entity).
A logistic model over these and the evidence gives each sentence a probability that it answers; the
question's score is the best sentence's. The weights and the threshold are fitted by
`scripts/calibrate_answerer` on our own sample questions and near misses
(edgeprompt/shipped/answer/judge.toml), never on a benchmark. The answer is the value's span in that
sentence (or the phrase it adds to the question), the sentence its citation. When a trained span reader
is installed (edgeprompt.rag.reader, shipped/answer/reader.onnx; none ships now, see DATA.md) it judges
the same candidates instead and its span is the answer.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from edgeprompt.backends.base import Document
from edgeprompt.rag.asked import Asked, asked, has_value, stem, values
from edgeprompt.rag.extract import Embed, Scored, quoted, score
from edgeprompt.rag.phrase import phrase
from edgeprompt.rag.retrieve import STOPWORDS

if TYPE_CHECKING:
    from edgeprompt.rag.reader import Reader

CANDIDATES = 5  # sentences judged per question: the best by evidence
FEATURES = ("evidence", "focus", "typed", "missing", "bias")
# used only when edgeprompt/shipped/answer/judge.toml is missing from a broken install: evidence alone, as before
_FALLBACK = {"weights": [12.0, 0.0, 0.0, 0.0, -12.0 * 0.58], "threshold": 0.5}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.]*\d|\d")
_UNIT = re.compile(
    r"\s?(?:%|°\s?[CF]\b|(?:per cent|percent|days?|weeks?|months?|years?|hours?|minutes?|mins?|"
    r"nights?|kg|g|lbs?|psi|miles?|km|mph|ml|cm|mm|usd|eur|dollars?|euros?|people|persons|"
    r"times|points?)\b)",
    re.I,
)
_LABEL = re.compile(r"^\s*([A-Za-z][\w /()'’-]{0,40}):\s+(\S.*)$")
# clause breaks: a comma, semicolon or colon before a space (not the comma of "5,000"), brackets, dashes
_CLAUSE = re.compile(r"\s*[,;:](?=\s)\s*|\s*[()\[\]—–]\s*|\s+-\s+|\s+(?:and|which|who|that|while|whereas|but)\s+")
_CURRENCY = re.compile(r"[$€£¥]|\b(?:usd|eur|gbp|jpy|dollars?|euros?|pounds?|yen)\b", re.I)
_EDGE = re.compile(r"^(?:the|a|an|and|or|of|in|on|at|to|by|for|with|from|as|is|was|were|are)\s+|[\s.,;:]+$", re.I)
_PART = re.compile(r"\s*(?:,\s*)?\band\s+(?=(?:what|when|where|who|which|how|the|its|their|his|her|my)\b)", re.I)
_MARKUP = re.compile(r"\*\*|__|`")
_BREAK = re.compile(r"[,;.!?]\s")  # a clause boundary between a value and the attribute it belongs to


@dataclass(frozen=True)
class Candidate:
    sentence: Scored
    probability: float  # that this sentence answers the asked attribute
    span: str  # the answer in it ("" when the judge found none)


@dataclass(frozen=True)
class Judgement:
    question: str
    asked: Asked
    score: float  # the best candidate's probability: the question's answerability
    best: Candidate | None
    threshold: float

    @property
    def answerable(self) -> bool:
        return self.best is not None and self.score >= self.threshold


@dataclass(frozen=True)
class Model:
    weights: tuple[float, ...]
    threshold: float

    def probability(self, features: Sequence[float]) -> float:
        z = sum(w * f for w, f in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


EVIDENCE_ONLY = Model((0.0,) * len(FEATURES), 0.0)  # judge off ([rag] judge = false): evidence alone decides


@cache
def shipped() -> Model:
    """The fitted weights and threshold (shipped/answer/judge.toml, written by scripts/calibrate_answerer)."""
    try:
        text = resources.files("edgeprompt.shipped").joinpath("answer/judge.toml").read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (FileNotFoundError, ModuleNotFoundError, OSError, tomllib.TOMLDecodeError):
        data = _FALLBACK
    if len(data.get("weights", ())) != len(FEATURES):  # fitted for another feature layout: not usable
        data = _FALLBACK
    return Model(tuple(float(w) for w in data["weights"]), float(data["threshold"]))


def _stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS}


def features(
    question: str, what: Asked, s: Scored, doc: Document | None, source_stems: set[str] | None = None
) -> tuple[float, ...]:
    """The judge's inputs for one sentence (FEATURES order); `source_stems`: the source's words, if known."""
    around = _stems(f"{s.text} {doc.context if doc else ''}")
    focus = [stem(w) for w in what.focus if w not in STOPWORDS]
    focus_share = sum(f in around for f in focus) / len(focus) if focus else 1.0
    if source_stems is None:
        source_stems = _stems(f"{doc.text} {doc.path}") if doc else set()
    source = around | source_stems
    q = _stems(question) - {stem(w) for w in what.wh.split()}
    missing = sum(t not in source for t in q) / len(q) if q else 0.0
    typed = 1.0 if has_value(what.kind, _value_text(what, s.text, question)) else 0.0
    return (s.score, focus_share, typed, missing, 1.0)


def _value_text(what: Asked, sentence: str, question: str) -> str:
    """For "who" and "where": the sentence without the question's own names (a name it repeats is no answer)."""
    if what.kind not in ("name", "place"):
        return sentence
    q = {w.lower() for w in _WORD.findall(question)}
    return " ".join(w for w in sentence.split() if w.strip(".,;:()").lower() not in q)


def judge(
    question: str, scored: Sequence[Scored], documents: Sequence[Document], model: Model | None = None
) -> Judgement:
    """How well the best sentence answers the question's asked attribute, and the answer span in it."""
    what = asked(question)
    top = sorted(scored, key=lambda s: -s.score)[:CANDIDATES]
    from edgeprompt.rag import reader  # numpy at import: `import edgeprompt.pipeline` must stay light

    read = reader.shipped() if model is None else None  # a model given explicitly is being fitted or is "off"
    if read is not None:
        return _read(question, what, top, read)
    model = model or shipped()
    by_n = {d.n: d for d in documents}
    words = {n: _stems(f"{by_n[n].text} {by_n[n].path}") for n in {s.n for s in top} if n in by_n}
    cands = [
        Candidate(s, model.probability(features(question, what, s, by_n.get(s.n), words.get(s.n))), "") for s in top
    ]
    if not cands:
        return Judgement(question, what, 0.0, None, model.threshold)
    best = max(cands, key=lambda c: c.probability)
    best = Candidate(best.sentence, best.probability, span(question, what, best.sentence.text))
    return Judgement(question, what, best.probability, best, model.threshold)


def _read(question: str, what: Asked, top: Sequence[Scored], read: Reader) -> Judgement:
    """The trained reader's judgement: each candidate sentence's best span against "no answer here", as a
    probability that is 0.5 at the reader's threshold; its span is the answer (the rules' when it has none)."""
    if not top:
        return Judgement(question, what, 0.0, None, 0.5)
    reads = read.read(question, [s.text for s in top])
    cands = [
        Candidate(s, 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, r.score - read.threshold)))), r.span)
        for s, r in zip(top, reads, strict=True)
    ]
    best = max(cands, key=lambda c: c.probability)
    if not best.span:
        best = Candidate(best.sentence, best.probability, span(question, what, best.sentence.text))
    return Judgement(question, what, best.probability, best, 0.5)


def judge_question(
    question: str, scored: Sequence[Scored], documents: Sequence[Document], model: Model | None = None
) -> Judgement:
    """The judgement of the best-answered part (one part for most questions): the sources answer the
    question when they answer any part of it."""
    return max((judge(p, scored, documents, model) for p in parts(question)), key=lambda j: j.score)


def parts(question: str) -> list[str]:
    """A multi-part question cut into its parts ("What is the check-in time and the confirmation number?"
    -> two); the later parts borrow the first one's question word. One part for most questions."""
    pieces = [p.strip(" ?,") for p in _PART.split(question) if p.strip(" ?,")]
    if len(pieces) < 2:
        return [question]
    head = re.match(
        r"^\s*((?:what|which|who|when|where|how(?:\s+\w+)?)\s+(?:is|was|are|were|do|does|did)?)\b", pieces[0], re.I
    )
    out = [pieces[0] + "?"]
    for p in pieces[1:]:
        starts_wh = re.match(r"(?:what|when|where|who|which|how)\b", p, re.I)
        out.append((p if starts_wh or not head else f"{head.group(1)} {p}") + "?")
    return out


# -- the answer span --------------------------------------------------------------------------------------


def span(question: str, what: Asked, sentence: str) -> str:
    """The shortest text of the sentence that answers: a value of the asked kind next to the asked
    attribute, the value of a "Label: value" line, or the clause that adds what the question does not say."""
    text = _MARKUP.sub("", sentence).strip()
    q = _stems(question)
    focus = {stem(w) for w in what.focus} & q
    words = list(_WORD.finditer(text))
    # the value goes with the asked attribute's words (else any of the question's), in the same clause
    anchors = (
        [m.span() for m in words if stem(m.group()) in focus]
        or [m.span() for m in words if stem(m.group()) in q]
        or [(0, 0)]
    )
    if what.kind == "place" and (where := phrase(text, question, "place", what.focus)):
        return where  # a place is the name after "in", "at", "from": not any capitalised word near the question's
    found = [(a, b) for a, b in values(what.kind, text) if not _stems(text[a:b]) <= q or what.kind == "code"]
    if found:

        def nearness(ab: tuple[int, int]) -> tuple[bool, bool, int, int]:
            gaps = [(text[min(ab[1], y) : max(ab[0], x)], abs(ab[0] - x)) for x, y in anchors]
            apart = min(gaps, key=lambda g: (bool(_BREAK.search(g[0])), g[1]))
            # an amount asked for: one written as money ("$1,020") before a bare number ("CrossClimate 2")
            bare = what.kind == "money" and not (
                _CURRENCY.search(text[max(0, ab[0] - 1) : ab[1]]) or _CURRENCY.match(text[ab[1] :].lstrip())
            )
            return bare, bool(_BREAK.search(apart[0])), apart[1], ab[0]

        a, b = min(found, key=nearness)
        if what.kind in ("number", "money", "duration") and (unit := _UNIT.match(text, b)):
            b = unit.end()
        return _trim(text[a:b])
    label = _LABEL.match(text)
    if label and _stems(label.group(1)) & (focus or q):  # the asked attribute's label, else any of the question's
        # the value up to its first clause break: "Eastside Auto Care, Bellevue, (425) 555-0124"
        return _trim(re.split(r"[,;]\s|\s\(", label.group(2))[0])[:120]
    return phrase(text, question, what.kind, what.focus) or _clause(text, q)


def _clause(text: str, q: set[str]) -> str:
    """The clause that says something the question does not, next to the clause most like the question."""
    clauses = [c for c in _CLAUSE.split(text) if c and c.strip()]
    if not clauses:
        return _trim(text)
    shared = [len(_stems(c) & q) for c in clauses]
    new = [len(_stems(c) - q) for c in clauses]
    best, best_key = 0, (-1.0, 0)
    for i, c in enumerate(clauses):
        if not new[i]:
            continue
        near = max(shared[i - 1] if i else 0, shared[i + 1] if i + 1 < len(clauses) else 0)
        key = (shared[i] * 0.5 + near - 0.3 * max(0, new[i] - 6), -len(c))
        if key > best_key:
            best, best_key = i, key
    words = clauses[best].split()
    # inside the clause, drop the question's own words at its start ("the curfew was lifted in June 1921")
    while len(words) > 1 and (stem(words[0].strip(".,;:")) in q or words[0].lower() in STOPWORDS):
        words = words[1:]
    return _trim(" ".join(words))


def _trim(text: str) -> str:
    prev = None
    while prev != text:
        prev, text = text, _EDGE.sub("", text.strip())
    return text


# -- the extractive answer ---------------------------------------------------------------------------------


def answer(question: str, documents: Sequence[Document], embed: Embed, model: Model | None = None) -> str:
    """The short answer with its [n], then the sentence it came from as the citation; each part of a
    multi-part question on its own line. The abstention text when no part is answered."""
    from edgeprompt.rag.prompting import ABSTAIN_TEXT

    scored = score(question, documents, embed)
    asked_parts = parts(question)
    found = [judge(p if len(asked_parts) > 1 else question, scored, documents, model) for p in asked_parts]
    answered = [j for j in found if j.answerable and j.best is not None and j.best.span]
    if not answered:
        return ABSTAIN_TEXT
    lines = []
    for j in found:
        if len(found) > 1:
            label = " ".join(j.asked.focus) or j.question.rstrip("?")
            value = f"{j.best.span} [{j.best.sentence.n}]" if j in answered and j.best else "not in your documents"
            lines.append(f"- {label}: {value}")
        elif j.best is not None:
            lines.append(f"{j.best.span} [{j.best.sentence.n}]")
    cited = list(dict.fromkeys(j.best.sentence for j in answered if j.best is not None))
    return "\n".join(lines) + "\n\n" + quoted("From your documents:", scored, cited)


__all__ = [
    "CANDIDATES",
    "EVIDENCE_ONLY",
    "FEATURES",
    "Candidate",
    "Judgement",
    "Model",
    "answer",
    "features",
    "judge",
    "judge_question",
    "parts",
    "shipped",
    "span",
]
