"""eval retrieval (and, from the observatory, eval run | compare): measure answers on question sets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group
from edgeprompt.commands.evalruns import register_runs

if TYPE_CHECKING:
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "eval", "measure answer quality on question sets", common)
    p = add_command(
        g,
        "retrieval",
        "recall@k, MRR, abstention, answerability, short-answer F1 and latency on your documents",
        common,
        cmd_retrieval,
    )
    p.add_argument(
        "--questions",
        required=True,
        metavar="FILE",
        help='JSON Lines {"question", "gold_docs": [path suffixes], "answer"}; no gold docs = should abstain',
    )
    p.add_argument("--docs", metavar="DIR", help="index this folder first (only what changed)")
    p.add_argument("-m", "--model", default="extractive", help="model that answers (default: extractive)")
    p.add_argument(
        "--no-answers", action="store_true", help="retrieval and abstention only: no answers, so no answer-contains"
    )
    register_runs(g, common)  # eval run | compare | list: the observatory's golden-set runs


def _text(r: dict[str, Any]) -> str:
    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}"

    lines = [
        f"{r['questions']} questions ({r['answerable']} answerable, {r['unanswerable']} not)",
        f"recall@1 {f(r['recall@1'])}  recall@5 {f(r['recall@5'])}  recall@10 {f(r['recall@10'])}  MRR {f(r['mrr'])}",
        f"abstention {f(r['abstention_accuracy'])} on unanswerable · false abstentions "
        f"{f(r['false_abstention_rate'])} (evidence threshold {r['min_evidence']:.2f})",
        f"answer contains the expected text {f(r['answer_contains_rate'])}",
        f"answerability AUROC {f(r['answerability_auroc'])} (evidence alone {f(r['evidence_auroc'])})  "
        f"exact match {f(r['exact_match'])}  token F1 {f(r['token_f1'])}  "
        f"median answer {r['answer_chars']['p50']:.0f} characters",
        f"whole answer p50 {r['answer_latency_ms']['p50']:.1f} ms, p95 {r['answer_latency_ms']['p95']:.1f} ms",
        f"search latency p50 {r['latency_ms']['p50']:.1f} ms, p95 {r['latency_ms']['p95']:.1f} ms",
    ]
    missed = [o["question"] for o in r["results"] if o["gold_docs"] and (o["first_gold_rank"] or 99) > 5]
    if missed:
        lines.append("not in the top 5: " + "; ".join(missed[:10]))
    return "\n".join(lines)


def cmd_retrieval(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.errors import UsageError
    from edgeprompt.rag.evaluate import evaluate, grounded_judge, read_questions, report

    questions = read_questions(Path(args.questions))
    rt = ctx.runtime()
    lib = rt.documents()
    if args.docs:
        lib.indexer.add([args.docs])
    if not lib.has_documents():
        raise UsageError("no documents are indexed; add some with `edgeprompt docs add PATH` or pass --docs DIR")
    judge = grounded_judge(rt, None if args.no_answers else args.model)
    outcomes = evaluate(questions, lambda q: lib.retriever.search(q, 10), judge)
    result = {**report(outcomes, lib.settings.min_evidence), "model": None if args.no_answers else args.model}
    ctx.emit(result, lambda: _text(result))
    return 0
