"""tools list | call NAME [JSON|-] | ask QUESTION: the tools models may call, run directly or by a model."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.app import Runtime
    from edgeprompt.cli import Context
    from edgeprompt.orchestrate.tools import Confirm


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "tools", "tools the models may call: documents search, calculator, units, dates, files", common)
    add_command(g, "list", "the tools, their parameters and whether they need confirmation", common, cmd_list)
    p = add_command(
        g,
        "call",
        'run one tool directly (arguments as a JSON object, or - for JSON Lines of {"tool": …, "arguments": {…}})',
        common,
        cmd_call,
    )
    p.add_argument("name", help="the tool, or - to read JSON Lines from stdin")
    p.add_argument("arguments", nargs="?", default="{}", help="a JSON object (default {})")
    p.add_argument("--yes", action="store_true", help="allow tools with side effects without asking")
    p = add_command(
        g,
        "ask",
        "answer with tools: '/calc 2+2', '@tool NAME {…}', or let an instruct model call them",
        common,
        cmd_ask,
    )
    p.add_argument("question", help="the question or explicit tool call")
    p.add_argument("-m", "--model", help="model id (default: routed)")
    p.add_argument("--yes", action="store_true", help="allow tools with side effects without asking")


def confirmer(args: argparse.Namespace) -> Confirm:
    from edgeprompt.orchestrate.toolloop import confirm_on_tty

    def ask(prompt: str) -> str:
        print(prompt, end="", file=sys.stderr, flush=True)
        return sys.stdin.readline()

    return confirm_on_tty(ask, bool(getattr(args, "yes", False)), sys.stdin.isatty())


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    tools = list(ctx.runtime().toolbox())
    rows = [
        {"name": t.name, "description": t.description, "parameters": dict(t.parameters), "side_effects": t.side_effects}
        for t in tools
    ]
    ctx.emit(
        rows,
        lambda: "\n".join(f"{t.name:<18} {'(asks first) ' if t.side_effects else ''}{t.description}" for t in tools),
    )
    return 0


def _arguments(text: str) -> dict[str, Any]:
    try:
        args = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"the arguments are not JSON ({e.msg})") from e
    if not isinstance(args, dict):
        raise UsageError("the arguments must be a JSON object")
    return args


def cmd_call(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.orchestrate.tools import ToolCall

    rt = ctx.runtime()
    box = rt.toolbox()
    if args.name != "-":
        result = box.run(ToolCall(args.name, _arguments(args.arguments), "cli"), confirmer(args))
        ctx.emit(result.as_dict(), lambda: _show(result))
        return 0
    from edgeprompt.cli import read_jsonl

    failed = 0
    for _, rec in read_jsonl(sys.stdin, "tool"):
        if isinstance(rec, str):
            failed += 1
            ctx.line({"error": rec})
            continue
        args_obj = rec.get("arguments", {})
        if not isinstance(args_obj, dict):
            failed += 1
            ctx.line({"tool": rec["tool"], "error": "arguments must be a JSON object"})
            continue
        result = box.call(ToolCall(rec["tool"], args_obj, "cli"), confirmer(args))
        failed += not result.ok
        ctx.line(result.as_dict())
    return 2 if failed else 0


def _show(result: Any) -> str:
    from edgeprompt.orchestrate.toolloop import show

    return show(result)


def tool_loop(rt: Runtime, model: str | None, args: argparse.Namespace, question: str) -> Any:
    from edgeprompt.backends.base import GenerationParams
    from edgeprompt.orchestrate.guard import Guard
    from edgeprompt.orchestrate.toolloop import ToolLoop, follows_instructions

    card = rt.card(model)
    prompted = follows_instructions(card, str(rt.settings.get("tools.prompting")))
    return ToolLoop(
        rt.toolbox(),
        rt.backend(card.id),
        card,
        GenerationParams.from_settings(rt.settings.section("generation")),
        guard=Guard.for_firewall(rt.active_firewall()),
        prompted=prompted,
        max_calls=int(rt.settings.get("tools.max_calls")),
        confirm=confirmer(args),
    )


def cmd_ask(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.routing.log import record_decision
    from edgeprompt.store.traces import Trace

    rt = ctx.runtime()
    if not args.question.strip():
        raise UsageError("the question is empty")
    trace = Trace(operation="tools")
    try:
        with trace.span("route") as s:
            decision = rt.router().for_request(args.question, args.model)
            s.attributes.update(decision.trace_attributes())
            record_decision(rt, decision, trace.id, "tools")
        loop = tool_loop(rt, decision.model, args, decision.text)
        loop.trace = trace
        trace.model = decision.model
        answer = loop.run(decision.text)
        trace.attributes.update({"edgeprompt.tools.mode": answer.mode, "edgeprompt.tools.calls": len(answer.results)})
    except BaseException as e:
        trace.status = "cancelled" if isinstance(e, KeyboardInterrupt) else "error"
        trace.attributes["error.type"] = type(e).__name__
        raise
    finally:
        rt.traces.save(trace)
    for note in answer.notices:
        ctx.info(note)
    ctx.emit({**answer.as_dict(), "trace_id": trace.id}, answer.answer)
    return 0 if all(r.ok for r in answer.results) else 2
