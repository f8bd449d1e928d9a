"""Answer a request with tools: the user's explicit call, or calls the model makes when prompted.

- Explicit (`/calc …`, `@tool NAME {…}`): the tool runs first; an instruct model then answers from
  the isolated result, and a model that cannot follow instructions (the demo model) shows the
  result itself — the deterministic fallback.
- Prompted (an instruct model): the system prompt lists the tools; each tool call the model writes is
  parsed (`toolcalls`), run (side effects only when confirmed), and its result goes back as an
  isolated, firewall-scanned document; at most `max_calls` calls, then the model answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import Document, GenerationParams, Message, Request
from edgeprompt.orchestrate.guard import Guard, IsolatedBlock
from edgeprompt.orchestrate.provenance import Provenance, attribute
from edgeprompt.orchestrate.toolcalls import NativeParser, parse_explicit, parse_tool_calls, visible_text
from edgeprompt.orchestrate.tools import Confirm, ToolBox, ToolResult, refuse_all

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.store.traces import Trace

TOOL_SYSTEM = (
    "You are edgeprompt, an assistant running offline on this computer. You can call tools. To call one, "
    "reply with only this, and nothing else:\n"
    '<tool_call>{"name": "TOOL_NAME", "arguments": {…}}</tool_call>\n'
    "When the tool results arrive, answer the user's request in plain text. Available tools:\n"
)
PLAIN_SYSTEM = "You are edgeprompt, an assistant running offline on this computer. Answer clearly and concisely."


def follows_instructions(card: ModelCard, mode: str = "auto") -> bool:
    """Whether to prompt this model for tool calls and plans. `auto`: every model except the test fake,
    the extractive answerer and the tiny demo model, which cannot follow instructions."""
    if mode in ("always", "never"):
        return mode == "always"
    return card.backend not in ("echo", "extractive") and card.id != "demo"


@dataclass(frozen=True)
class ModelReply:
    text: str
    finish: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


def complete(
    backend: Backend,
    messages: Sequence[Message],
    params: GenerationParams,
    cancel: threading.Event | None = None,
    documents: Sequence[Document] = (),
) -> ModelReply:
    """Run the backend to the end and return the whole text."""
    pieces: list[str] = []
    finish, stats = "stop", None
    for chunk in backend.stream(Request(tuple(messages), params, cancel, tuple(documents))):
        pieces.append(chunk.text)
        if chunk.finish_reason is not None:
            finish, stats = chunk.finish_reason, chunk.stats
    return ModelReply(
        "".join(pieces), finish, stats.prompt_tokens if stats else 0, stats.completion_tokens if stats else 0
    )


def show(result: ToolResult) -> str:
    """A tool result as an answer, for a model that cannot phrase one."""
    if not result.ok:
        text = result.text().removeprefix("error: ")
        return text if text.startswith(result.call.name) else f"{result.call.name}: {text}"
    out = result.output
    if isinstance(out, dict) and isinstance(said := out.get("text"), str):
        return said
    if isinstance(out, dict) and isinstance(out.get("hits"), list):
        if not out["hits"]:
            return f"no passages found for '{out.get('query', '')}'"
        return "\n".join(
            f"[{h['n']}] {h['path']}{' (' + h['location'] + ')' if h.get('location') else ''}: "
            f"{' '.join(str(h['text']).split())[:240]}"
            for h in out["hits"]
        )
    return json.dumps(out, ensure_ascii=False, indent=2, default=str)


@dataclass(frozen=True)
class ToolAnswer:
    answer: str
    results: tuple[ToolResult, ...]
    mode: str  # explicit | prompted | direct
    model: str
    finish: str = "stop"
    notices: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "mode": self.mode,
            "model": self.model,
            "finish_reason": self.finish,
            "tools": [r.as_dict() for r in self.results],
            "notices": list(self.notices),
        }


class ToolLoop:
    def __init__(
        self,
        toolbox: ToolBox,
        backend: Backend,
        card: ModelCard,
        params: GenerationParams,
        *,
        guard: Guard | None = None,
        prompted: bool = True,
        max_calls: int = 4,
        confirm: Confirm = refuse_all,
        trace: Trace | None = None,
    ) -> None:
        self.toolbox, self.backend, self.card, self.params = toolbox, backend, card, params
        self.guard = guard or Guard()
        self.prompted, self.max_calls, self.confirm, self.trace = prompted, max_calls, confirm, trace
        self.native = NativeParser.of_backend(backend)
        self.provenance: Provenance | None = None  # set per run: the user's words vs what the model read

    def _call(self, call: Any) -> ToolResult:
        if self.provenance is not None:
            call = attribute(call, self.toolbox, self.provenance)
        if self.trace is None:
            return self.toolbox.call(call, self.confirm)
        with self.trace.span("tool.call") as s:
            result = self.toolbox.call(call, self.confirm)
            s.attributes.update(
                {
                    "gen_ai.tool.name": call.name,
                    "edgeprompt.tool.source": call.source,
                    "edgeprompt.tool.requested_by": call.requested_by,
                    "edgeprompt.tool.ok": result.ok,
                    "edgeprompt.tool.refused": result.refused,
                }
            )
        return result

    def _generate(self, messages: list[Message], cancel: threading.Event | None) -> ModelReply:
        if self.trace is None:
            return complete(self.backend, messages, self.params, cancel)
        with self.trace.span("generate") as s:
            done = complete(self.backend, messages, self.params, cancel)
            s.attributes.update(
                {
                    "gen_ai.request.model": self.card.id,
                    "gen_ai.usage.input_tokens": done.prompt_tokens,
                    "gen_ai.usage.output_tokens": done.completion_tokens,
                }
            )
        return done

    def _isolated(self, results: Sequence[ToolResult], first: int) -> list[IsolatedBlock]:
        if self.provenance is not None:
            for r in results:
                self.provenance.add(r.text())
        return [self.guard.isolate(f"[tool {first + i}] {r.call.name}", r.text()) for i, r in enumerate(results)]

    def run(self, question: str, cancel: threading.Event | None = None, documents: Sequence[str] = ()) -> ToolAnswer:
        """Answer `question` with tools; `documents` are retrieved passages the model also reads."""
        explicit = parse_explicit(question)
        if explicit is not None:
            return self._explicit(question, explicit, cancel)  # the user typed the call: theirs by definition
        self.provenance = Provenance([question], documents)
        if not self.prompted:
            done = self._generate([Message("system", PLAIN_SYSTEM), Message("user", question)], cancel)
            return ToolAnswer(done.text.strip(), (), "direct", self.card.id, done.finish)
        return self._prompted(question, cancel)

    def _explicit(self, question: str, call: Any, cancel: threading.Event | None) -> ToolAnswer:
        result = self._call(call)
        if not self.prompted:
            return ToolAnswer(show(result), (result,), "explicit", self.card.id)
        blocks = self._isolated([result], 1)
        messages = self.guard.messages(PLAIN_SYSTEM, blocks, f"Using the tool result, answer: {question}")
        done = self._generate(messages, cancel)
        return ToolAnswer(
            done.text.strip() or show(result),
            (result,),
            "explicit",
            self.card.id,
            done.finish,
            tuple(Guard.notices(blocks)),
        )

    def _prompted(self, question: str, cancel: threading.Event | None) -> ToolAnswer:
        specs = self.toolbox.specs()
        system = TOOL_SYSTEM + json.dumps(specs, ensure_ascii=False)
        results: list[ToolResult] = []
        blocks: list[IsolatedBlock] = []
        history: list[Message] = []
        notices: list[str] = []
        turn = question
        while True:  # results so far sit in the system turn as isolated data; the calls stay in the history
            done = self._generate(self.guard.messages(system, blocks, turn, history), cancel)
            calls = parse_tool_calls(done.text, self.native, specs)
            room = self.max_calls - len(results)
            if not calls or done.finish == "cancelled" or room <= 0:
                if calls and room <= 0:
                    notices.append(f"stopped after {self.max_calls} tool calls")
                answer = visible_text(done.text, self.native)
                return ToolAnswer(answer, tuple(results), "prompted", self.card.id, done.finish, tuple(notices))
            new = [self._call(c) for c in calls[:room]]
            fresh = self._isolated(new, len(results) + 1)
            results += new
            blocks += fresh
            notices += Guard.notices(fresh)
            history += [Message("user", turn), Message("assistant", done.text)]
            turn = (
                f"The results of {', '.join(r.call.name for r in new)} are in the documents above. "
                "Answer my request, or call another tool."
            )


def confirm_on_tty(ask: Callable[[str], str], yes: bool, interactive: bool) -> Confirm:
    """The CLI's confirmation: `--yes` allows what the user asked for, a TTY asks, anything else refuses.
    A call that text the assistant read asked for (provenance) is never covered by `--yes`."""

    def confirm(tool: Any, call: Any) -> bool:
        by_document = getattr(call, "requested_by", "user") != "user"
        if yes and not by_document:
            return True
        if not interactive:
            return False
        args = json.dumps(call.arguments, ensure_ascii=False)
        warning = (
            f"WARNING: you did not ask for this; text the assistant read did ({'; '.join(call.why)}).\n"
            if by_document
            else ""
        )
        reply = ask(f"{warning}{tool.name} {args[:200]} has side effects; run it? [y/N] ")
        return reply.strip().lower() in ("y", "yes")

    return confirm
