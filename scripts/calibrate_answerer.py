"""Fit the answerability judge (edgeprompt.rag.answerable) and write edgeprompt/shipped/answer/judge.toml.

Data: our own sample documents and questions only (samples/eval/questions.jsonl and the hand-written near
misses in samples/eval/near-misses.jsonl: questions the documents talk about but do not answer). Never a
benchmark. For each question the sources are retrieved as `ask` retrieves them, and the judge's
CANDIDATES best sentences become rows: a sentence of an answerable question is positive when it holds the
expected answer, every sentence of an unanswerable one is negative. A logistic regression on the judge's
features gives the weights; the threshold is the one that abstains most on the unanswerable questions
while adding at most EXTRA_FALSE_ABSTENTION false abstentions on the answerable ones to those the evidence
floor ([rag] min_evidence) already makes there.

Usage: scripts/calibrate_answerer [--home DIR] [--out edgeprompt/shipped/answer/judge.toml] [--rows FILE]
                                  [--from-rows FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from edgeprompt.app import Runtime
from edgeprompt.backends.base import Document
from edgeprompt.rag.answerable import CANDIDATES, FEATURES, Model, features
from edgeprompt.rag.asked import asked
from edgeprompt.rag.evaluate import Question, read_questions
from edgeprompt.rag.extract import score

ROOT = Path(__file__).resolve().parents[1]
SETS = (ROOT / "samples/eval/questions.jsonl", ROOT / "samples/eval/near-misses.jsonl")
EXTRA_FALSE_ABSTENTION = 0.03


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("*", "").split())


def rows(rt: Runtime, questions: list[Question]) -> tuple[list[list[float]], list[int], list[tuple[int, int]]]:
    """Feature rows, their labels, and for each question the (first, end) of its rows (the best sentence's
    evidence is each row's first feature)."""
    lib = rt.documents()
    embed = rt.embedder().embed_batch
    x: list[list[float]] = []
    y: list[int] = []
    spans = []
    for q in questions:
        hits = lib.retriever.search(q.question, lib.settings.top_k)
        docs = [Document(i, h.text, h.path, h.location, h.relevance, h.context) for i, h in enumerate(hits, 1)]
        top = sorted(score(q.question, docs, embed), key=lambda s: -s.score)[:CANDIDATES]
        what = asked(q.question)
        start = len(x)
        for s in top:
            x.append(list(features(q.question, what, s, docs[s.n - 1])))
            y.append(int(bool(q.gold_docs) and any(_norm(a) in _norm(s.text) for a in q.answers)))
        spans.append((start, len(x)))
    return x, y, spans


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", help="data home with samples/documents indexed (default: a fresh temporary one)")
    ap.add_argument("--out", default=str(ROOT / "edgeprompt/shipped/answer/judge.toml"))
    ap.add_argument("--rows", help="also write the feature rows here (JSON), to study the fit")
    ap.add_argument("--from-rows", help="fit from rows written by --rows (no retrieval: seconds)")
    args = ap.parse_args()
    questions = [q for path in SETS for q in read_questions(path)]
    if args.from_rows:
        saved = json.loads(Path(args.from_rows).read_text(encoding="utf-8"))
        x, y, spans = saved["x"], saved["y"], [tuple(s) for s in saved["spans"]]
        floor = float(saved.get("floor", 0.58))
    else:
        rt = Runtime.open(args.home or tempfile.mkdtemp(prefix="calibrate-answerer-"))
        rt.documents().indexer.add([str(ROOT / "samples/documents")])
        x, y, spans = rows(rt, questions)
        floor = rt.documents().settings.min_evidence
    if args.rows:
        Path(args.rows).write_text(json.dumps({"x": x, "y": y, "spans": spans, "floor": floor}))
    # a question whose answer is in none of its candidates teaches nothing about judging: retrieval missed
    keep = [i for i, (q, (a, b)) in enumerate(zip(questions, spans, strict=True)) if not q.gold_docs or any(y[a:b])]
    idx = [r for i in keep for r in range(*spans[i])]
    xs, ys = np.array(x)[idx], np.array(y)[idx]
    fit = LogisticRegression(C=1.0, class_weight="balanced", fit_intercept=False, max_iter=2000).fit(xs, ys)
    weights = [round(float(w), 4) for w in fit.coef_[0]]
    model = Model(tuple(weights), 0.5)
    # each question's score is its best candidate's probability, as the judge computes it at run time
    # the grounding stage abstains below either bar: the evidence floor ([rag] min_evidence) or the judge's
    scores = [
        max((model.probability(x[r]) for r in range(a, b)), default=0.0)
        if max((x[r][0] for r in range(a, b)), default=0.0) >= floor
        else 0.0
        for a, b in spans
    ]
    answerable = [s for q, s in zip(questions, scores, strict=True) if q.gold_docs]
    unanswerable = [s for q, s in zip(questions, scores, strict=True) if not q.gold_docs]
    floor_fa = float(np.mean([s == 0.0 for s in answerable]))  # what the evidence floor alone abstains on
    best_t, best = 0.5, (-1.0, 0.0)
    for t in np.arange(0.05, 0.96, 0.01):
        fa = float(np.mean([s < t for s in answerable]))
        ab = float(np.mean([s < t for s in unanswerable]))
        if fa <= floor_fa + EXTRA_FALSE_ABSTENTION and (ab, -t) > best:
            best_t, best = float(round(t, 2)), (ab, -t)
    fa = float(np.mean([s < best_t for s in answerable]))
    ab = float(np.mean([s < best_t for s in unanswerable]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    measured = {
        "questions": len(questions),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "rows": len(idx),
        "abstention": round(ab, 4),
        "false_abstention": round(fa, 4),
        "false_abstention_evidence_floor_alone": round(floor_fa, 4),
    }
    out.write_text(
        "# The answerability judge (edgeprompt.rag.answerable), fitted by scripts/calibrate_answerer on\n"
        "# samples/eval/questions.jsonl + samples/eval/near-misses.jsonl (our own data; see DATA.md here).\n"
        f"features = {json.dumps(list(FEATURES))}\n"
        f"weights = {json.dumps(weights)}\n"
        f"threshold = {best_t}\n\n[measured]  # on the calibration questions themselves\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in measured.items()),
        encoding="utf-8",
    )
    print(json.dumps({"weights": dict(zip(FEATURES, weights, strict=True)), "threshold": best_t, **measured}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
