"""`eval retrieval`: recall@1/5/10, MRR, abstention, answer-contains and latency on a question set.

Questions are JSON Lines `{"question", "gold_docs", "answer"}`; `gold_docs` name files by path suffix
("housing/lease.pdf" matches any indexed path ending in it); an empty list means the documents do not
answer it, and the right behaviour is to abstain. Definitions (answerable = has gold documents):
- recall@k: share of answerable questions with a gold document among the documents of the top-k chunks;
- MRR: mean of 1/rank of the first chunk from a gold document (0 when none in the top 10);
- abstention accuracy: share of unanswerable questions that abstain; false abstentions: share of
  answerable questions that abstain;
- answer-contains: share of answerable questions with an `answer` whose text (case and spacing
  ignored) appears in the produced answer;
- latency: the search itself (top 10, query embedding included), per question; answer latency: the whole
  answer as `ask` makes it (grounding, the answerability judge and the model), per question;
- abstention here is what `ask` does: the best chunk below `min_relevance`, no sentence of the sources
  with evidence `min_evidence` (edgeprompt.rag.extract), or the answerability judge below its threshold
  (edgeprompt.rag.answerable);
- answerability AUROC: how well the judge's score ranks answerable above unanswerable questions;
- exact match and token F1 (SQuAD's normalisation: lower case, no punctuation or articles, best over the
  gold answers; a question may give several as "answers": [...]) of the short answer (the text before the
  quoted sentences, without [n]) on the answerable questions answered; answer length in characters.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeprompt.errors import UsageError
from edgeprompt.rag.retrieve import Hit

KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    question: str
    gold_docs: tuple[str, ...]
    answer: str | None
    answers: tuple[str, ...] = ()  # every accepted answer (the first is `answer`)


@dataclass(frozen=True)
class Judged:
    """What `ask` did with one question."""

    text: str | None  # the answer (None: abstention only, no model asked)
    abstained: bool
    evidence: float
    answerability: float = 0.0
    answer_ms: float = 0.0  # grounding + judge + the model's whole answer


@dataclass(frozen=True)
class Outcome:
    question: str
    gold_docs: tuple[str, ...]
    first_gold_rank: int | None  # 1-based chunk rank of the first gold hit
    best_relevance: float
    evidence: float
    abstained: bool
    answer: str | None
    contains: bool | None
    latency_ms: float
    top_docs: tuple[str, ...]
    answerability: float = 0.0
    short: str | None = None  # the short answer (None when abstained or no answer was made)
    exact: bool | None = None
    f1: float | None = None
    answer_ms: float = 0.0


def read_questions(path: Path) -> list[Question]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the questions file {path}: {e}") from e
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise UsageError(f"{path}, line {n}: not JSON ({e})") from e
        gold = rec.get("gold_docs", []) if isinstance(rec, dict) else None
        if not isinstance(rec, dict) or not isinstance(rec.get("question"), str) or not isinstance(gold, list):
            raise UsageError(f'{path}, line {n}: expected {{"question": str, "gold_docs": [...], "answer": …}}')
        answers: list[Any] = rec["answers"] if isinstance(rec.get("answers"), list) else []
        answer = rec.get("answer") or (answers[0] if answers else None)
        accepted = tuple(dict.fromkeys(str(a) for a in [answer, *answers] if a))
        out.append(Question(rec["question"], tuple(str(g) for g in gold), str(answer) if answer else None, accepted))
    if not out:
        raise UsageError(f"{path} has no questions")
    return out


def matches(path: str, gold: str) -> bool:
    p, g = path.replace("\\", "/"), gold.replace("\\", "/").lstrip("./")
    return p == g or p.endswith("/" + g)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("*", "")).strip()


def evaluate(
    questions: Sequence[Question], search: Callable[[str], list[Hit]], judge: Callable[[str], Judged]
) -> list[Outcome]:
    """Run every question: `search` for the ranking and its latency, `judge(q)` for what `ask` would do."""
    out = []
    for q in questions:
        t0 = time.perf_counter()
        hits = search(q.question)
        latency = (time.perf_counter() - t0) * 1e3
        rank = next((i for i, h in enumerate(hits, 1) if any(matches(h.path, g) for g in q.gold_docs)), None)
        best = max((h.relevance for h in hits), default=0.0)
        j = judge(q.question)
        gold = q.answers or ((q.answer,) if q.answer else ())
        contains = (
            None if not (q.gold_docs and gold and j.text is not None) else any(_norm(g) in _norm(j.text) for g in gold)
        )
        short = None if j.abstained or j.text is None else short_answer(j.text)
        exact = f1 = None
        if q.gold_docs and gold and short is not None:
            exact = any(squad_norm(short) == squad_norm(g) for g in gold)
            f1 = round(max(token_f1(short, g) for g in gold), 4)
        out.append(
            Outcome(
                q.question,
                q.gold_docs,
                rank,
                round(best, 4),
                round(j.evidence, 4),
                j.abstained,
                j.text,
                contains,
                round(latency, 2),
                tuple(h.path for h in hits),
                round(j.answerability, 4),
                short,
                exact,
                f1,
                round(j.answer_ms, 2),
            )
        )
    return out


_CITES = re.compile(r"\s*\[\d{1,2}\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def short_answer(text: str) -> str:
    """The answer without its quoted sources: the part before the blank line, [n] markers removed."""
    return _CITES.sub("", text.strip().split("\n\n", 1)[0]).strip()


def squad_norm(text: str) -> str:
    """SQuAD's answer normalisation: lower case, punctuation and articles removed, spaces collapsed."""
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub("", text.lower())).split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 between a prediction and one gold answer."""
    p, g = squad_norm(prediction).split(), squad_norm(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum(min(p.count(w), g.count(w)) for w in set(p))
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """The probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 4)


def _pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return 0.0
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def report(outcomes: Sequence[Outcome], min_evidence: float) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.gold_docs]
    unanswerable = [o for o in outcomes if not o.gold_docs]
    lat = [o.latency_ms for o in outcomes]
    answer_lat = [o.answer_ms for o in outcomes]
    contains = [float(o.contains) for o in answerable if o.contains is not None]
    lengths = [float(len(o.short)) for o in outcomes if o.short is not None]
    sweep = []
    for i in range(9):  # what other evidence thresholds would have done (calibration)
        t = round(0.40 + 0.05 * i, 2)
        sweep.append(
            {
                "min_evidence": t,
                "abstention": _mean([float(o.evidence < t) for o in unanswerable]),
                "false_abstention": _mean([float(o.evidence < t) for o in answerable]),
            }
        )
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        **{
            f"recall@{k}": _mean([float(o.first_gold_rank is not None and o.first_gold_rank <= k) for o in answerable])
            for k in KS
        },
        "mrr": _mean([1.0 / o.first_gold_rank if o.first_gold_rank else 0.0 for o in answerable]),
        "abstention_accuracy": _mean([float(o.abstained) for o in unanswerable]),
        "false_abstention_rate": _mean([float(o.abstained) for o in answerable]),
        "answer_contains_rate": _mean(contains),
        "answerability_auroc": auroc([o.answerability for o in answerable], [o.answerability for o in unanswerable]),
        "evidence_auroc": auroc([o.evidence for o in answerable], [o.evidence for o in unanswerable]),
        "exact_match": _mean([float(o.exact) for o in answerable if o.exact is not None]),
        "token_f1": _mean([o.f1 for o in answerable if o.f1 is not None]),
        "answer_chars": {"p50": _pct(lengths, 50), "mean": _mean(lengths)},
        "latency_ms": {"p50": round(_pct(lat, 50), 2), "p95": round(_pct(lat, 95), 2)},
        "answer_latency_ms": {"p50": round(_pct(answer_lat, 50), 2), "p95": round(_pct(answer_lat, 95), 2)},
        "min_evidence": min_evidence,
        "threshold_sweep": sweep,
        "results": [asdict(o) for o in outcomes],
    }


def grounded_judge(rt: Any, model_id: str | None) -> Callable[[str], Judged]:
    """Each question as `ask` would treat it, without a session: ground (abstain or not), then let the
    model answer from the sources (`model_id` None: no answer, abstention only)."""
    from edgeprompt.backends.base import GenerationParams, Message, Request
    from edgeprompt.rag.grounding import ground
    from edgeprompt.rag.prompting import ABSTAIN_TEXT

    backend = rt.backend(model_id) if model_id else None
    count = backend.count_tokens if backend else (lambda msgs: sum(len(m.content.split()) for m in msgs))
    context = backend.context_length if backend else 8192
    lib = rt.documents()

    def embed(texts: list[str]) -> Any:
        return rt.embedder().embed_batch(texts)

    def judge(question: str) -> Judged:
        t0 = time.perf_counter()
        g = ground(lib, embed, question, [], True, None, count, context)
        if g.abstained or backend is None:
            return Judged(
                ABSTAIN_TEXT if backend and g.abstained else None,
                g.abstained,
                g.evidence,
                g.answerability,
                (time.perf_counter() - t0) * 1e3,
            )
        messages = tuple(m for m in (g.message(), Message("user", question)) if m is not None)
        text = "".join(
            c.text for c in backend.stream(Request(messages, GenerationParams(max_tokens=256), None, g.documents))
        )
        return Judged(text, g.abstains(text), g.evidence, g.answerability, (time.perf_counter() - t0) * 1e3)

    return judge
