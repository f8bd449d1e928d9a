"""eval run | compare | list: golden-set evaluation runs (the observatory's part of the `eval` group)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command

if TYPE_CHECKING:
    from edgeprompt.cli import Context
    from edgeprompt.observatory.evals import CaseOutcome


def register_runs(g: Any, common: argparse.ArgumentParser) -> None:
    """Adds the subcommands to the `eval` group made in edgeprompt.commands.eval."""
    p = add_command(
        g, "run", "run a golden set (SUITE.yaml) through the assistant, check and store the answers", common, cmd_run
    )
    p.add_argument("suite", metavar="SUITE.yaml", help="cases: input, assert (registry assertion types), rubric")
    p.add_argument("-m", "--model", help="model that answers (default: the suite's, else the default model)")
    p.add_argument("--prompt", metavar="NAME:LABEL", help="registry prompt to answer with (or NAME@VERSION)")
    p = add_command(
        g, "compare", "what regressed from run A to run B, case by case (exit 1 if anything did)", common, cmd_compare
    )
    p.add_argument("run_a", metavar="RUN_A", help="run id, prefix, or 'previous'")
    p.add_argument("run_b", metavar="RUN_B", help="run id, prefix, or 'latest'")
    p = add_command(g, "list", "stored evaluation runs, newest first", common, cmd_list)
    p.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt import pipeline
    from edgeprompt.observatory.evals import load_suite, run_suite
    from edgeprompt.observatory.evalstore import EvalStore

    suite = load_suite(Path(args.suite).expanduser())
    rt = ctx.runtime()

    def progress(o: CaseOutcome, i: int, n: int) -> None:
        mark = "pass" if o.passed else "FAIL"
        why = (
            ""
            if o.passed
            else ": "
            + "; ".join([c.detail or c.type for c in o.checks if not c.passed] + ([o.error] if o.error else []))
        )
        ctx.info(f"[{i}/{n}] {mark} {o.case_id}{why}")

    run_id = run_suite(
        rt.suite_parts(),
        rt.registry(),
        lambda request: pipeline.run(request, rt),
        suite,
        args.model,
        args.prompt,
        progress,
    )
    run = EvalStore(rt.db).run(run_id)
    ctx.emit(
        run,
        lambda: (
            f"run {run_id}: {run['passed']}/{run['cases']} passed · suite {run['suite']} · "
            f"model {run['model']}" + (f" · prompt {run['prompt']}" if run["prompt"] else "")
        ),
    )
    return 0 if run["passed"] == run["cases"] else 1


def _compare_text(c: dict[str, Any]) -> str:
    s = c["summary"]
    lines = [
        f"{c['a']['id']} ({c['a']['model']}, {c['a']['passed']}/{c['a']['cases']}) → "
        f"{c['b']['id']} ({c['b']['model']}, {c['b']['passed']}/{c['b']['cases']})",
        ", ".join(f"{v} {k}" for k, v in s.items() if v),
    ]
    if not c["same_suite"]:
        lines.append("note: the two runs used different versions of the suite")
    for case in c["cases"]:
        if case["change"] in ("regressed", "fixed", "new", "removed") or "slower" in case:
            extra = f" ({'; '.join(case.get('failed_checks', []))})" if case.get("failed_checks") else ""
            slow = f" [{case['slower']}× slower]" if "slower" in case else ""
            lines.append(f"  {case['change']:<9} {case['case_id']}{extra}{slow}")
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.observatory.evalstore import EvalStore, compare

    result = compare(EvalStore(ctx.runtime().db), args.run_a, args.run_b)
    ctx.emit(result, lambda: _compare_text(result))
    return 1 if result["regressions"] else 0


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.observatory.evalstore import EvalStore

    runs = EvalStore(ctx.runtime().db).runs(args.limit)
    ctx.emit(
        runs,
        lambda: (
            "\n".join(
                f"{r['id']}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(r['started_at']))}  {r['passed']:>3}/"
                f"{r['cases']:<3} {r['suite']} · {r['model']}"
                + (f" · {r['prompt']}" if r["prompt"] else "")
                + ("" if r["status"] == "done" else f" ({r['status']})")
                for r in runs
            )
            or "no eval runs yet"
        ),
    )
    return 0
