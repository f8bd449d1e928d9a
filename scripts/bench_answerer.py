"""Whole extractive answers with the answerability judge against without it, in the same run.

Each question is answered twice in turn (alternating which goes first, the sentence memo emptied before
each), once by a runtime with `[rag] judge = true` (the judge decides and
the answer is the short span) and once by one with `judge = false` (evidence alone, the best sentences
quoted), over the same indexed data home, so both see the same machine load. Reported: p50/p95 of the
whole answer (grounding + judge + extractive answer) for each, their ratio, and the load average.

Usage: scripts/bench_answerer --home DIR --questions FILE [--docs DIR] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from edgeprompt.app import Runtime
from edgeprompt.rag.evaluate import grounded_judge, read_questions
from edgeprompt.rag.extract import forget


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, round(p / 100 * len(s)) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", required=True, help="data home with the documents indexed")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--docs", help="index this folder first")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions (0: all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        off_home = Path(tmp) / "judge-off"
        with Runtime.open(args.home) as rt:
            if args.docs:
                rt.documents().indexer.add([args.docs])
        shutil.copytree(args.home, off_home, symlinks=True)
        (off_home / "config.toml").write_text("[rag]\njudge = false\n", encoding="utf-8")
        questions = read_questions(Path(args.questions))[: args.limit or None]
        with Runtime.open(args.home) as on_rt, Runtime.open(off_home) as off_rt:
            on, off = grounded_judge(on_rt, "extractive"), grounded_judge(off_rt, "extractive")
            on(questions[0].question), off(questions[0].question)  # load MiniLM in both before timing
            times: dict[str, list[float]] = {"judge": [], "no_judge": []}
            for i, q in enumerate(questions):  # alternate which goes first; neither may reuse the other's memo
                for name, judge in (("judge", on), ("no_judge", off))[:: 1 if i % 2 else -1]:
                    forget()
                    times[name].append(judge(q.question).answer_ms)
    result = {k: {"p50": round(statistics.median(v), 2), "p95": round(_pct(v, 95), 2)} for k, v in times.items()}
    result["p50_ratio"] = round(result["judge"]["p50"] / result["no_judge"]["p50"], 3)
    result["questions"] = len(questions)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(
        json.dumps(result)
        if args.json
        else f"whole extractive answer p50: judge {result['judge']['p50']} ms, without {result['no_judge']['p50']} ms "
        f"(ratio {result['p50_ratio']}), p95 {result['judge']['p95']} / {result['no_judge']['p95']} ms; "
        f"{len(questions)} questions, load {result['load_average']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
