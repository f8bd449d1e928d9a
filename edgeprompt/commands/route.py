"""route TEXT | - (which model would answer, and why); route --export (decisions + thumbs as training data);
route --eval (accuracy on the labelled routing set's held-out split, or on a labelled file with --set)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command
from edgeprompt.errors import EdgepromptError, UsageError

if TYPE_CHECKING:
    from edgeprompt.cli import Context
    from edgeprompt.routing.router import RouteDecision


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        "route",
        "which model would answer TEXT, and why (or '-' for JSON Lines of "
        '{"text": …}); --export and --eval for training data and accuracy',
        common,
        cmd_route,
    )
    p.add_argument("text", nargs="?", help="the request, or - to read JSON Lines from stdin")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--export",
        action="store_true",
        help="print routing decisions joined with their thumbs (JSON Lines with --json)",
    )
    mode.add_argument("--eval", action="store_true", help="router accuracy on the labelled routing set")
    p.add_argument("--since-days", type=float, help="--export: only decisions from the last N days")
    p.add_argument("--outcomes-only", action="store_true", help="--export: only decisions that got thumbs")
    p.add_argument(
        "--to-examples",
        action="store_true",
        help="--export: also add thumbs-up decisions to the local router training examples",
    )
    p.add_argument("--split", choices=["test", "train", "all"], default="test", help="--eval: which split")
    p.add_argument(
        "--set",
        type=Path,
        metavar="FILE",
        help="--eval: every row of this labelled JSON Lines file instead of the routing set "
        "(e.g. a held-out phrasing file; --json lists its misses)",
    )


def _text(d: RouteDecision) -> str:
    top = sorted(d.scores.items(), key=lambda kv: -kv[1])[:3]
    scores = ", ".join(f"{k} {v:.2f}" for k, v in top)
    rules = f"\n  rules:  {', '.join(d.rules)}" if d.rules else ""
    return f"{d.route} → {d.model}\n  scores: {scores}{rules}\n  reason: {d.reason}"


def cmd_route(args: argparse.Namespace, ctx: Context) -> int:
    if args.export:
        return _export(args, ctx)
    if args.eval:
        return _eval(args, ctx)
    if args.text is None:
        raise UsageError("give the request to route, or - to read JSON Lines from stdin")
    router = ctx.runtime().router()
    if args.text != "-":
        if not args.text.strip():
            raise UsageError("the request is empty")
        decision = router.decide(args.text)
        ctx.emit(decision.as_dict(), lambda: _text(decision))
        return 0

    def one(rec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": rec["id"]} if "id" in rec else {}  # the caller's id comes back as given
        try:
            if not rec["text"].strip():
                raise UsageError("the request is empty")
            out.update(router.decide(rec["text"]).as_dict())
        except EdgepromptError as e:
            out["error"] = str(e)
        return out

    return ctx.batch("text", one)


def _export(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.routing.log import DecisionLog
    from edgeprompt.store.examples import ExampleStore

    rt = ctx.runtime()
    log = DecisionLog(rt.db)
    since = time.time() - args.since_days * 86400 if args.since_days is not None else 0.0
    rows = log.export(since, with_outcome_only=args.outcomes_only)
    added = log.to_examples(ExampleStore(rt.db)) if args.to_examples else 0
    if ctx.json:
        for r in rows:
            ctx.line(r.as_dict())
    else:
        for r in rows:
            mark = {1: "+1", -1: "-1", None: " ·"}[r.outcome]
            print(f"{mark} {r.route:<10} {r.model:<20} {(r.text or '(text not kept)')[:70]}")
    ctx.info(f"{len(rows)} decisions" + (f"; {added} added to the router examples" if args.to_examples else ""))
    return 0


def _eval(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.routing.evaluation import evaluate, load_set

    if args.set is not None:
        if not args.set.is_file():
            raise UsageError(f"--set: no file {args.set}")
        # a held-out file has no split column: all of it is measured
        rows, name = load_set(args.set), args.set.name
    else:
        rows, name = load_set(split=None if args.split == "all" else args.split), f"{args.split} split"
    if not rows:
        raise UsageError(f"{name}: no labelled rows")
    router = ctx.runtime().router()
    report = evaluate(router, rows)
    out = {"split": "all" if args.set else args.split, "set": name, "head": router.head.source, **report.as_dict()}
    ctx.emit(
        out,
        lambda: (
            f"{name}: accuracy {report.accuracy:.3f} on {report.n} prompts "
            f"(ambiguous {report.ambiguous_accuracy:.3f} on {report.ambiguous_n}); "
            f"head: {router.head.source}\n{report.table()}"
        ),
    )
    return 0
