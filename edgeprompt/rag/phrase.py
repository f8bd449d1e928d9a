"""The phrase of a sentence that answers a question: what the sentence says that the question does not.

A question names its subject and leaves a gap ("When did the council lift the curfew?"); the sentence
that answers it repeats most of the subject and fills the gap ("The curfew was lifted in June 1921").
Without a trained reader the gap is found by removing the question's own words from the sentence: what
remains falls into runs (cut at punctuation, clause words and the question's words), and the run that
sits closest to the most question words, in the same clause, and is short is the answer. For "who" the
run must hold a capitalised name, for "where" a capitalised place (after "in", "at", "from"...), and so
for "which airline" and other classes of named things; values of a typed kind (a time, an amount) are
found by edgeprompt.rag.asked, not here. Regular expressions only: microseconds per sentence.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from edgeprompt.rag.asked import stem
from edgeprompt.rag.retrieve import STOPWORDS

# a number keeps its currency sign, thousands and decimals ("$2,000", "1.5"); a word its inner
# apostrophes, dots and hyphens ("U.S.", "Saint-Denis")
_TOKEN = re.compile(r"[$€£¥]?\d[\d,.:/-]*\d%?|[$€£¥]?\d%?|\w(?:[\w'’.&-]*\w)?|[^\w\s]")
# tokens that end a run: punctuation, and words that open a new clause (the answer rarely runs across them)
_BREAK_PUNCT = set(',;:()[]{}"“”!?—–')
_CLAUSE_PUNCT = set(",;:()[]{}!?—–")  # quotes end a run but not a clause (the network is "harborlane-guest")
_CLAUSE_WORDS = frozenset(
    "which who whom whose that because although though while whereas when where if since unless after before "
    "until but so thus however therefore is are was were be been being has have had do does did".split()
)
_EDGE_WORDS = frozenset(
    "a an the and or of in on at to by for with from as its their his her this that these those also "
    "then there it they he she we into than not through via per about over under during within without "
    "across along among near like such".split()
)
# the asked thing is a proper name when the question asks "which …" or names a class of named things
_NAMED_CLASS = frozenset(
    "company airline city town country state province district region river lake mountain island station "
    "university college school team club party church palace shrine temple castle museum king queen emperor "
    "dynasty empire kingdom newspaper brand bank hospital clinic street language religion tribe army".split()
)
_FUNCTION = _EDGE_WORDS | STOPWORDS
_PLACE_BEFORE = frozenset("in at from near to into across within outside inside throughout".split())
MAX_WORDS = 10  # a longer run is cut to the words next to the question's


@dataclass(frozen=True)
class Run:
    start: int  # character offsets in the sentence
    end: int
    words: int
    distance: int  # 1 + the content words between the run and the nearest question word
    anchors: int  # question words in the run's clause
    pull: float = 0.0  # Σ 1/distance over the question's words (halved outside the run's clause)


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def runs(text: str, question_stems: Collection[str], question_words: Collection[str]) -> list[Run]:
    """The runs of the sentence that the question does not say, with how close each is to the question."""
    toks = _tokens(text)
    in_q = [
        t.lower() in question_words or (t.lower() not in STOPWORDS and stem(t) in question_stems) for t, _, _ in toks
    ]
    is_break = [t in _BREAK_PUNCT or (t == "." and i == len(toks) - 1) for i, (t, _, _) in enumerate(toks)]
    # clause ids: a new clause after each punctuation break
    clause, c = [], 0
    for t, _, _ in toks:
        c += t in _CLAUSE_PUNCT
        clause.append(c)
    # distance counts the content words between a run and a question word ("through the Bayside portal": 1)
    content = [0]
    for t, _, _ in toks:
        content.append(content[-1] + (t[0].isalnum() and t.lower() not in _FUNCTION))
    anchors_in: dict[int, int] = {}
    for i, q in enumerate(in_q):
        if q and toks[i][0].lower() not in STOPWORDS:
            anchors_in[clause[i]] = anchors_in.get(clause[i], 0) + 1
    anchor_at = [i for i, q in enumerate(in_q) if q and toks[i][0].lower() not in STOPWORDS]
    out: list[Run] = []
    i = 0
    while i < len(toks):
        if in_q[i] or is_break[i] or toks[i][0].lower() in _CLAUSE_WORDS:
            i += 1
            continue
        j = i
        while j < len(toks) and not (in_q[j] or is_break[j] or toks[j][0].lower() in _CLAUSE_WORDS):
            j += 1
        a, b = i, j  # tokens [a, b): trim function words at both ends
        while a < b and toks[a][0].lower() in _FUNCTION:
            a += 1
        while b > a and (toks[b - 1][0].lower() in _FUNCTION or not _ends_phrase(toks[b - 1][0])):
            b -= 1
        if a < b:
            dists = [(1 + _between(content, k, a, b), clause[k] == clause[a]) for k in anchor_at]
            dist = min((d for d, _ in dists), default=99)
            pull = sum((1.0 if same else 0.5) / d for d, same in dists)
            out.append(Run(toks[a][1], toks[b - 1][2], b - a, dist, anchors_in.get(clause[a], 0), pull))
        i = j
    return out


def _ends_phrase(token: str) -> bool:
    """A phrase may end in a word, a number or a percentage, not in a sign ("$", "&")."""
    return token[-1].isalnum() or token[-1] == "%"


def _between(content: list[int], k: int, a: int, b: int) -> int:
    """Content words strictly between token k and the run of tokens [a, b)."""
    return content[a] - content[k + 1] if k < a else content[k] - content[b] if k >= b else 0


def _capitalised(text: str, run: Run, first_word_at: int) -> list[tuple[int, int]]:
    """The capitalised names inside a run ("Maren Holt", "Gilde des Baltischen Holzes"), not the
    sentence's first word alone."""
    out = []
    for m in re.finditer(r"[A-Z][\w'’.&-]*(?:\s+(?:(?:de|da|du|van|von|of|the|al|la|le)\s+)?[A-Z][\w'’.&-]*)*", text):
        end = m.start() + len(m.group().rstrip("."))  # "Clinic." ends the sentence, not the name
        if m.start() >= run.start and end <= run.end and not (m.start() == first_word_at and " " not in m.group()):
            out.append((m.start(), end))
    return out


def phrase(text: str, question: str, kind: str, focus: Collection[str] = ()) -> str:
    """The answering phrase of `text` for `question` ("" when the sentence adds nothing to the question).
    `kind` is the asked kind (edgeprompt.rag.asked): "name" wants a capitalised name, "place" a place;
    `focus` the asked attribute's words ("airline"): a class of named things wants a name too."""
    q_words = {w.lower() for w in re.findall(r"\w+", question)}
    q_stems = {stem(w) for w in q_words if w not in STOPWORDS}
    found = runs(text, q_stems, q_words)
    if not found:
        return ""
    first = next((m.start() for m in re.finditer(r"\w", text)), 0)
    wants_name = kind in ("name", "place") or any(f.rstrip("s") in _NAMED_CLASS for f in focus)
    if wants_name:
        named: list[tuple[tuple[float, ...], tuple[int, int]]] = []
        for r in found:
            for a, b in _capitalised(text, r, first):
                before = re.findall(r"\w+", text[:a])[-1:]
                place = bool(before) and before[0].lower() in _PLACE_BEFORE
                named.append(((-float(place and kind == "place"), *_near(r)), (a, b)))
        # a name not far behind the best run (a "which airline" answer may sit a word further than "via")
        if named and (kind != "other" or min(named)[0][1] <= _near(min(found, key=_near))[0] + 1):
            a, b = min(named)[1]
            return text[a:b]
    best = min(found, key=_near)
    words = list(re.finditer(r"\S+", text[best.start : best.end]))
    words = words[:MAX_WORDS]  # a long run is a clause, not an answer: keep its head
    return text[best.start : best.start + words[-1].end()].strip(" ,;:.")


def _near(r: Run) -> tuple[float, int]:
    """Sort key: close to many of the question's words, most in its own clause, and short."""
    return (0.25 * max(0, r.words - 4) - r.pull, r.start)


__all__ = ["MAX_WORDS", "Run", "phrase", "runs"]
