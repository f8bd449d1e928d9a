"""Plans: a compound task broken into steps — retrieve → (tools) → analyse → draft → format.

Two ways to decompose: rules (the deterministic fallback, which the demo model uses) and prompting an
instruct model for a JSON list of steps, validated against a schema; a plan the model gets wrong is
replaced by the rule plan, and the plan says so in its notes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeprompt.errors import EdgepromptError
from edgeprompt.orchestrate.toolcalls import parse_explicit
from edgeprompt.routing.rules import keyword_hits

ACTIONS = ("retrieve", "tool", "analyse", "draft", "format")
MODEL_ACTIONS = ("analyse", "draft")

_LEAD = re.compile(
    r"^\s*(?:please\s+)?(?:can you\s+)?(?:prepare|write|draft|create|make|produce|compile|give me|"
    r"put together|build|generate)\s+(?:me\s+)?(?:a|an|the)?\s*(?:[\w-]+\s+){0,3}?"
    r"(?:of|on|about|for|from|covering)\s+",
    re.IGNORECASE,
)
_DELIVERABLE = re.compile(
    r"\b((?:summary\s+)?(?:report|summary|memo|email|letter|outline|brief|briefing|overview|"
    r"plan|list|table|minutes|review|proposal|checklist|timeline))\b",
    re.IGNORECASE,
)
# arithmetic written in the task ("… and add 1200 * 1.2 …"); "-" only between spaces, so dates are not sums
_NUM = r"\(?\d+(?:[.,]\d+)*\)?"
_EXPRESSION = re.compile(rf"(?<![\w.])({_NUM}(?:\s*(?:[+*/^×÷]|\s-\s)\s*{_NUM})+)")

PLAN_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["action", "instruction"],
        "properties": {
            "action": {"enum": list(ACTIONS)},
            "instruction": {"type": "string", "minLength": 1},
            "tool": {"type": "string"},
            "arguments": {"type": "object"},
        },
    },
}

PLANNER_SYSTEM = (
    "Break the user's task into at most {max_steps} steps. Reply with only a JSON array; each step is "
    '{{"action": "retrieve" | "tool" | "analyse" | "draft" | "format", "instruction": "…", '
    '"tool": "TOOL" (tool steps only), "arguments": {{…}} (tool steps only)}}. '
    "Use retrieve to search the user's documents, tool for calculations, unit conversions, dates and files, "
    "analyse to extract what matters, draft to write the result, and end with format. Tools: {tools}"
)


@dataclass(frozen=True)
class Step:
    n: int
    action: str  # retrieve | tool | analyse | draft | format
    instruction: str
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "action": self.action,
            "instruction": self.instruction,
            "tool": self.tool,
            "arguments": self.arguments,
        }


@dataclass(frozen=True)
class Plan:
    task: str
    title: str
    steps: tuple[Step, ...]
    method: str  # rules | model
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "title": self.title,
            "method": self.method,
            "notes": list(self.notes),
            "steps": [s.as_dict() for s in self.steps],
        }


def topic_of(task: str) -> str:
    """The subject of a task: 'prepare a summary report of my 2025 meetings' -> 'my 2025 meetings'."""
    rest = _LEAD.sub("", task, count=1).strip().rstrip(".?!")
    return rest or task.strip()


def deliverable_of(task: str) -> str:
    m = _DELIVERABLE.search(task)
    return m.group(1).lower() if m else "answer"


def title_of(task: str) -> str:
    text = " ".join(task.split()).rstrip(".?!")
    text = text if len(text) <= 90 else text[:87].rstrip() + "…"
    return text[:1].upper() + text[1:]


def _numbered(steps: list[Step], max_steps: int, notes: list[str]) -> tuple[Step, ...]:
    """Renumber; when over the limit keep the first steps and the closing format step."""
    if len(steps) > max_steps:
        notes.append(f"the plan had {len(steps)} steps; kept {max_steps} (--max-steps)")
        fmt = [s for s in steps if s.action == "format"][-1:]
        steps = steps[: max_steps - len(fmt)] + fmt if max_steps > len(fmt) else steps[:max_steps]
    return tuple(Step(i, s.action, s.instruction, s.tool, s.arguments) for i, s in enumerate(steps, 1))


def rule_plan(task: str, max_steps: int = 8, tag: str | None = None, notes: tuple[str, ...] = ()) -> Plan:
    """The deterministic plan: documents when the task needs your files, tools it names, then analyse,
    draft and format."""
    steps: list[Step] = []
    topic = topic_of(task)
    explicit = parse_explicit(task)
    if explicit is not None:
        steps.append(Step(0, "tool", f"Run {explicit.name} as asked", explicit.name, explicit.arguments))
    elif tag == "documents" or any(h.tag == "documents" for h in keyword_hits(task, ("documents",))):
        steps.append(
            Step(
                0,
                "retrieve",
                f"Find the passages in your documents about {topic}",
                "search_documents",
                {"query": topic, "k": 8},
            )
        )
    for expr in _EXPRESSION.findall(task if explicit is None else ""):
        steps.append(Step(0, "tool", f"Calculate {expr.strip()}", "calculator", {"expression": expr.strip()}))
    kind = deliverable_of(task)
    steps += [
        Step(0, "analyse", f"List the key facts, decisions, figures and open questions about {topic}."),
        Step(0, "draft", f"Write the {kind} about {topic}, using the analysis."),
        Step(0, "format", "Assemble the Markdown document with its sources."),
    ]
    out_notes = list(notes)
    return Plan(task, title_of(task), _numbered(steps, max_steps, out_notes), "rules", tuple(out_notes))


def _first_array(text: str) -> Any:
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "[":
            try:
                return decoder.raw_decode(text, i)[0]
            except ValueError:
                continue
    raise ValueError("no JSON array in the reply")


def parse_model_plan(task: str, reply: str, tool_names: list[str], max_steps: int) -> Plan:
    """A plan from the model's JSON; raises ValueError saying what is wrong with it."""
    from jsonschema import Draft202012Validator

    raw = _first_array(reply)
    errors = list(Draft202012Validator(PLAN_SCHEMA).iter_errors(raw))
    if errors:
        raise ValueError(errors[0].message)
    steps: list[Step] = []
    for item in raw:
        action, tool, args = item["action"], item.get("tool"), dict(item.get("arguments") or {})
        if action == "retrieve":
            tool, args = "search_documents", {"query": str(args.get("query") or topic_of(task)), "k": 8}
        elif action == "tool" and tool not in tool_names:
            raise ValueError(f"step uses unknown tool {tool!r}")
        steps.append(
            Step(
                0,
                action,
                item["instruction"],
                tool if action in ("retrieve", "tool") else None,
                args if action in ("retrieve", "tool") else {},
            )
        )
    if steps[-1].action != "format":
        steps.append(Step(0, "format", "Assemble the Markdown document with its sources."))
    notes: list[str] = []
    return Plan(task, title_of(task), _numbered(steps, max_steps, notes), "model", tuple(notes))


def model_plan(
    task: str,
    ask: Callable[[str, str], str],
    tool_names: list[str],
    tools_text: str,
    max_steps: int = 8,
    tag: str | None = None,
) -> Plan:
    """Ask an instruct model (`ask(system, user) -> reply`) for the plan; fall back to the rule plan."""
    try:
        reply = ask(PLANNER_SYSTEM.format(max_steps=max_steps, tools=tools_text), task)
    except EdgepromptError as e:  # e.g. the planning prompt does not fit a small model's window
        return rule_plan(task, max_steps, tag, (f"the model could not plan ({e}); used the rule plan",))
    try:
        return parse_model_plan(task, reply, tool_names, max_steps)
    except ValueError as e:
        return rule_plan(task, max_steps, tag, (f"the model's plan was not usable ({e}); used the rule plan",))
