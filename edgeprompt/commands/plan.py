"""plan TASK: break a compound task into steps, run them with tools and the routed models, write Markdown."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.app import Runtime
    from edgeprompt.cli import Context
    from edgeprompt.orchestrate.plans import Plan
    from edgeprompt.routing.router import RouteDecision


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        "plan",
        "carry out a compound task step by step (retrieve → analyse → draft → format) and write the result as Markdown",
        common,
        cmd_plan,
    )
    p.add_argument("task", help="the task, in your words")
    p.add_argument("--out", type=Path, metavar="FILE", help="the Markdown file (default: <data home>/plans/…)")
    p.add_argument("--max-steps", type=int, help="most steps (default [plans] max_steps)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds, keeping what was done")
    p.add_argument("-m", "--model", help="run every model step with this model (default: routed per step)")
    p.add_argument("--yes", action="store_true", help="allow tools with side effects without asking")
    p.add_argument("--dry-run", action="store_true", help="show the plan without running it")


def default_out(rt: Runtime, task: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", task.lower()).strip("-")[:48] or "plan"
    return rt.home / "plans" / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}.md"


def make_plan(rt: Runtime, task: str, model: str | None, max_steps: int) -> tuple[Plan, RouteDecision]:
    """Rule plan for models that cannot follow instructions; otherwise the model plans, rules as fallback."""
    from edgeprompt.backends.base import GenerationParams, Message
    from edgeprompt.orchestrate.plans import model_plan, rule_plan
    from edgeprompt.orchestrate.toolloop import complete, follows_instructions

    decision = rt.router().for_request(task, model)
    card = rt.card(decision.model)
    if not follows_instructions(card, str(rt.settings.get("tools.prompting"))):
        return rule_plan(decision.text, max_steps, decision.route or None), decision
    backend, box = rt.backend(card.id), rt.toolbox()

    params = GenerationParams.from_settings(rt.settings.section("generation"))

    def ask(system: str, user: str) -> str:
        return complete(backend, [Message("system", system), Message("user", user)], params).text

    # tools as one compact line each (name and argument names): a small model's window is precious
    tools_text = "; ".join(f"{t.name}({', '.join(t.parameters.get('properties', {}))}): {t.description}" for t in box)
    return model_plan(decision.text, ask, box.names(), tools_text, max_steps, decision.route or None), decision


def _check(args: argparse.Namespace, rt: Runtime) -> tuple[int, float]:
    if not args.task.strip():
        raise UsageError("the task is empty")
    plans = rt.settings.section("plans")
    max_steps = args.max_steps if args.max_steps is not None else int(plans["max_steps"])
    timeout = args.timeout if args.timeout is not None else float(plans["timeout_s"])
    if max_steps < 2:
        raise UsageError("--max-steps must be at least 2 (one step and the format step)")
    if timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if args.out is not None and args.out.expanduser().is_dir():
        raise UsageError(f"--out {args.out} is a folder; give a file name")
    return max_steps, timeout


def cmd_plan(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.backends.base import GenerationParams
    from edgeprompt.commands.tools import confirmer
    from edgeprompt.orchestrate.guard import Guard
    from edgeprompt.orchestrate.plan_runner import PlanRunner, passage_digest
    from edgeprompt.orchestrate.toolloop import follows_instructions
    from edgeprompt.rag.support import check as check_support
    from edgeprompt.routing.log import record_decision

    rt = ctx.runtime()
    max_steps, timeout = _check(args, rt)
    plan, _ = make_plan(rt, args.task, args.model, max_steps)
    if args.dry_run:
        ctx.emit(
            plan.as_dict(),
            lambda: "\n".join(
                f"{s.n}. {s.action}: {s.instruction}" + (f"  [{s.tool}]" if s.tool else "") for s in plan.steps
            ),
        )
        return 0
    ctx.info(f"plan ({plan.method}, {len(plan.steps)} steps): {plan.title}")
    for note in plan.notes:
        ctx.info(f"note: {note}")
    router, prompting = rt.router(), str(rt.settings.get("tools.prompting"))
    runner = PlanRunner(
        rt.toolbox(),
        lambda model_id: rt.backend(model_id),
        lambda text: router.for_request(text, args.model),
        # a step's own token limit (0: the [generation] one)
        GenerationParams.from_settings(
            rt.settings.section("generation"), max_tokens=int(rt.settings.get("plans.step_max_tokens")) or None
        ),
        guard=Guard.for_firewall(rt.active_firewall()),
        confirm=confirmer(args),
        progress=ctx.info,
        save_trace=rt.traces.save,
        on_route=lambda d, trace_id: record_decision(rt, d, trace_id, "plan"),
        instruct=lambda model_id: follows_instructions(rt.card(model_id), prompting),
        digest=passage_digest(lambda texts: rt.embedder().embed_batch(texts)),
        support=lambda topic, text, docs: check_support(topic, text, docs, lambda t: rt.embedder().embed_batch(t)),
    )
    result = runner.run(plan, None, timeout, args.out or default_out(rt, args.task))
    for note in result.notices:
        ctx.info(note)
    ctx.emit(result.as_dict(), lambda: f"wrote {result.out} ({result.status}; trace {result.trace_id})")
    return {"ok": 0, "timeout": 1}.get(result.status, 130)
