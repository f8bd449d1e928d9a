"""Run a plan: each step with a tool or the routed model, progress as it goes, one trace with a span per
step, limits on time, cancellable (a cancel Event or Ctrl-C) with what was done kept, and a Markdown
file as the result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import Document, GenerationParams, Message
from edgeprompt.orchestrate.guard import Guard, IsolatedBlock
from edgeprompt.orchestrate.plans import topic_of
from edgeprompt.orchestrate.provenance import Provenance, attribute
from edgeprompt.orchestrate.toolloop import complete, show
from edgeprompt.orchestrate.tools import Confirm, ToolBox, ToolCall, refuse_all
from edgeprompt.store.traces import Trace

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.orchestrate.plans import Plan, Step
    from edgeprompt.rag.support import Support
    from edgeprompt.routing.router import RouteDecision

STEP_SYSTEM = (
    "You are edgeprompt, carrying out one step of a larger task on the user's computer. Do only "
    "this step, in plain prose or Markdown, without preamble."
)
MIN_BLOCK_CHARS = 200


class AnyEvent(threading.Event):
    """Set when it is set itself or any of the given events is (the user's cancel plus the time limit);
    backends only call `is_set()`."""

    def __init__(self, *others: threading.Event | None) -> None:
        super().__init__()
        self.others = [e for e in others if e is not None]

    def is_set(self) -> bool:
        return super().is_set() or any(e.is_set() for e in self.others)


@dataclass(frozen=True)
class StepResult:
    step: Step
    status: str  # ok | error | refused | cancelled | skipped
    output: str
    duration_ms: float
    model: str | None = None
    route: str | None = None
    tool: dict[str, Any] | None = None
    sources: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.step.as_dict(),
            "status": self.status,
            "output": self.output,
            "model": self.model,
            "route": self.route,
            "tool_result": self.tool,
            "duration_ms": round(self.duration_ms, 1),
        }


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    steps: tuple[StepResult, ...]
    status: str  # ok | cancelled | timeout
    markdown: str
    trace_id: str
    out: str | None = None
    notices: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.plan.task,
            "title": self.plan.title,
            "method": self.plan.method,
            "status": self.status,
            "out": self.out,
            "trace_id": self.trace_id,
            "notes": list(self.plan.notes),
            "notices": list(self.notices),
            "steps": [s.as_dict() for s in self.steps],
        }


@dataclass
class _State:
    blocks: list[IsolatedBlock] = field(default_factory=list)  # material later steps read
    sources: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


class PlanRunner:
    def __init__(
        self,
        toolbox: ToolBox,
        backend_for: Callable[[str], Backend],
        route: Callable[[str], RouteDecision],
        params: GenerationParams,
        *,
        guard: Guard | None = None,
        confirm: Confirm = refuse_all,
        progress: Callable[[str], None] = lambda _: None,
        save_trace: Callable[[Trace], None] = lambda _: None,
        on_route: Callable[[RouteDecision, str], object] = lambda *_: None,
        instruct: Callable[[str], bool] = lambda _: True,
        digest: Callable[[str, Sequence[Document]], str] | None = None,
        support: Callable[[str, str, Sequence[Document]], Support] | None = None,
    ) -> None:
        self.toolbox, self.backend_for, self.route, self.params = toolbox, backend_for, route, params
        self.guard = guard or Guard()
        self.confirm, self.progress, self.save_trace, self.on_route = confirm, progress, save_trace, on_route
        # a model that cannot follow instructions (the demo, the extractive answerer) does not analyse:
        # the analysis is then the passages that best match the task, quoted with their [n] (`digest`)
        self.instruct, self.digest = instruct, digest
        # a model's analysis or draft from the documents is checked sentence by sentence against them (`support`:
        # edgeprompt.rag.support.check with the embedder); unsupported sentences come back marked
        self.support = support

    def run(
        self, plan: Plan, cancel: threading.Event | None = None, timeout_s: float | None = None, out: Path | None = None
    ) -> PlanResult:
        trace = Trace(operation="plan")
        stop = AnyEvent(cancel)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            stop.set()

        timer = threading.Timer(timeout_s, expire) if timeout_s else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        state, results, status = _State(), [], "ok"
        try:
            for step in plan.steps:
                if stop.is_set():
                    status = "timeout" if expired.is_set() else "cancelled"
                    results.append(StepResult(step, "skipped", "", 0.0))
                    continue
                self.progress(f"[{step.n}/{len(plan.steps)}] {step.action}: {step.instruction}")
                result = self._traced(trace, plan, step, results, state, stop)
                results.append(result)
                why = f": {result.output.splitlines()[0][:160]}" if result.status in ("error", "refused") else ""
                self.progress(
                    f"[{step.n}/{len(plan.steps)}] {step.action} {result.status} "
                    f"({result.duration_ms / 1000:.1f} s){why}"
                )
                if result.status == "cancelled":
                    status = "timeout" if expired.is_set() else "cancelled"
            markdown = render(plan, results, status)
            written = write_markdown(out, markdown) if out is not None else None
            trace.status = "ok" if status == "ok" else "cancelled"
            trace.attributes.update(
                {
                    "gen_ai.operation.name": "plan",
                    "edgeprompt.plan.method": plan.method,
                    "edgeprompt.plan.steps": len(plan.steps),
                    "edgeprompt.plan.status": status,
                    "edgeprompt.plan.out": written or "",
                }
            )
            return PlanResult(plan, tuple(results), status, markdown, trace.id, written, tuple(state.notices))
        except BaseException as e:
            trace.status = "error"
            trace.attributes["error.type"] = type(e).__name__
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self.save_trace(trace)

    def _traced(
        self, trace: Trace, plan: Plan, step: Step, done: Sequence[StepResult], state: _State, stop: threading.Event
    ) -> StepResult:
        t0 = time.perf_counter()
        with trace.span("plan.step") as s:
            s.attributes.update({"edgeprompt.plan.step": step.n, "edgeprompt.plan.action": step.action})
            try:
                result = self._step(trace, plan, step, done, state, stop, t0)
            except KeyboardInterrupt:  # Ctrl-C: stop here, keep what the earlier steps made
                stop.set()
                result = StepResult(step, "cancelled", "", (time.perf_counter() - t0) * 1e3)
            s.attributes.update(
                {
                    "edgeprompt.plan.status": result.status,
                    **({"gen_ai.tool.name": step.tool} if step.tool else {}),
                    **({"gen_ai.request.model": result.model} if result.model else {}),
                    **({"edgeprompt.route.tag": result.route} if result.route else {}),
                }
            )
        return result

    def _step(
        self,
        trace: Trace,
        plan: Plan,
        step: Step,
        done: Sequence[StepResult],
        state: _State,
        stop: threading.Event,
        t0: float,
    ) -> StepResult:
        if step.action in ("retrieve", "tool"):
            return self._tool_step(plan, step, state, t0)
        if step.action == "format":
            return StepResult(step, "ok", "Markdown assembled", (time.perf_counter() - t0) * 1e3)
        return self._model_step(trace, plan, step, state, stop, t0)

    def _tool_step(self, plan: Plan, step: Step, state: _State, t0: float) -> StepResult:
        # who asked for it: the task's words, or what the earlier steps read
        call = attribute(
            ToolCall(step.tool or "", dict(step.arguments), "plan"),
            self.toolbox,
            Provenance([plan.task], [b.text for b in state.blocks]),
        )
        res = self.toolbox.call(call, self.confirm)
        text = show(res)
        status = "ok" if res.ok else ("refused" if res.refused else "error")
        sources: tuple[dict[str, Any], ...] = ()
        if res.ok:
            block = self.guard.isolate(f"[step {step.n}] {step.tool}", res.text())
            state.blocks.append(block)
            state.notices += Guard.notices([block])
            if isinstance(res.output, dict) and isinstance(res.output.get("hits"), list):
                sources = tuple(res.output["hits"])
                state.sources += list(sources)
        return StepResult(step, status, text, (time.perf_counter() - t0) * 1e3, tool=res.as_dict(), sources=sources)

    def _model_step(
        self, trace: Trace, plan: Plan, step: Step, state: _State, stop: threading.Event, t0: float
    ) -> StepResult:
        decision = self.route(f"{step.instruction} {plan.task}")
        self.on_route(decision, trace.id)
        docs = [
            Document(
                i,
                str(h.get("text", "")),
                str(h.get("path", "")),
                str(h.get("location", "")),
                float(h.get("relevance", 0.0)),
            )
            for i, h in enumerate(state.sources, 1)
        ]
        if docs and self.digest and not self.instruct(decision.model):
            if step.action == "draft":
                why = (
                    f"_No draft: the model '{decision.model}' cannot write one. The key passages from your "
                    f"documents are under Analysis._"
                )
                return StepResult(step, "skipped", why, (time.perf_counter() - t0) * 1e3, None, decision.route)
            text = self.digest(topic_of(plan.task), docs)
            state.blocks.append(self.guard.isolate(f"[step {step.n}] analysis", text))
            return StepResult(step, "ok", text, (time.perf_counter() - t0) * 1e3, None, decision.route)
        backend = self.backend_for(decision.model)
        messages = self._messages(backend, plan, step, state.blocks)
        room = backend.context_length - backend.count_tokens(messages)
        params = GenerationParams(
            max(1, min(self.params.max_tokens, room)),
            self.params.temperature,
            self.params.top_p,
            self.params.seed,
            self.params.stop,
        )
        # retrieved passages also go as the request's numbered documents: the extractive model quotes them
        done = complete(backend, messages, params, stop, docs)
        text = done.text.strip()
        if docs and text and self.support is not None and done.finish != "cancelled":
            checked = self.support(topic_of(plan.task), text, docs)
            text = checked.answer
            if (note := checked.notice()) is not None:
                state.notices.append(f"step {step.n}: {note}")
        if step.action == "analyse" and text:
            state.blocks.append(self.guard.isolate(f"[step {step.n}] analysis", text))
        status = "cancelled" if done.finish == "cancelled" else "ok"
        return StepResult(step, status, text, (time.perf_counter() - t0) * 1e3, decision.model, decision.route)

    def _messages(self, backend: Backend, plan: Plan, step: Step, blocks: list[IsolatedBlock]) -> list[Message]:
        """System + isolated material + the step; material is shortened until the prompt leaves room
        for the answer in the model's window."""
        ask = f"Task: {plan.task}\nThis step: {step.instruction}"
        budget = backend.context_length - min(self.params.max_tokens, backend.context_length // 2)
        cut = [IsolatedBlock(b.label, b.text, b.decision, b.score) for b in blocks]
        while True:  # the material sits in the system turn, as the pipeline's sources do; the user turn is the step
            messages = self.guard.messages(STEP_SYSTEM, cut, ask)
            if backend.count_tokens(messages) <= budget or not cut:
                return messages
            longest = max(range(len(cut)), key=lambda i: len(cut[i].text))
            b = cut[longest]
            if len(b.text) > MIN_BLOCK_CHARS:
                cut[longest] = IsolatedBlock(
                    b.label, b.text[: len(b.text) // 2] + " … [shortened]", b.decision, b.score
                )
            else:
                cut.pop(0)


def passage_digest(embed: Callable[[list[str]], Any], most: int = 8) -> Callable[[str, Sequence[Document]], str]:
    """The analysis without a language model: the sentences of the retrieved passages that best match the
    task (MiniLM + word overlap, edgeprompt.rag.extract), in reading order, each with its [n]."""

    def digest(topic: str, docs: Sequence[Document]) -> str:
        from edgeprompt.rag.extract import quoted, score

        scored = score(topic, docs, embed)
        return quoted("Key passages from your documents:", scored, sorted(scored, key=lambda s: -s.score)[:most])

    return digest


def render(plan: Plan, results: Sequence[StepResult], status: str) -> str:
    """The result document: the draft, the analysis and figures, sources, and how it was made."""
    by_action: dict[str, list[StepResult]] = {}
    for r in results:
        by_action.setdefault(r.step.action, []).append(r)
    lines = [f"# {plan.title}", ""]
    if status != "ok":
        done = sum(1 for r in results if r.status == "ok")
        lines += [
            f"> This plan stopped early ({status}) after {done} of {len(plan.steps)} steps; "
            "what was done is kept below.",
            "",
        ]
    drafts = [r.output for r in by_action.get("draft", []) if r.output and r.status in ("ok", "skipped")]
    lines += [*(drafts or ["_No draft was written._"]), ""]
    analyses = [r.output for r in by_action.get("analyse", []) if r.output]
    if analyses:
        lines += ["## Analysis", "", *analyses, ""]
    figures = [r.output for r in by_action.get("tool", []) if r.status == "ok"]
    if figures:
        lines += ["## Figures", "", *[f"- {f}" for f in figures], ""]
    sources = [h for r in results for h in r.sources]
    if sources:
        lines += ["## Sources", ""]
        lines += [
            f"{i}. {h.get('path', '')}{' (' + h['location'] + ')' if h.get('location') else ''}"
            for i, h in enumerate(sources, 1)
        ] + [""]
    lines += ["## How this was made", "", "| # | step | by | status | time |", "|---|---|---|---|---|"]
    for r in results:
        by = r.step.tool or (f"{r.model} ({r.route})" if r.model else "edgeprompt")
        what = r.step.instruction.replace("|", "\\|")
        lines.append(f"| {r.step.n} | {r.step.action}: {what} | {by} | {r.status} | {r.duration_ms / 1000:.1f} s |")
    lines += ["", f"_edgeprompt plan · {time.strftime('%Y-%m-%d %H:%M')} · {plan.method} plan · {status}_", ""]
    return "\n".join(lines)


def write_markdown(path: Path, text: str) -> str:
    """Write atomically (a temp file, then rename), so a cancelled run never leaves half a file."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return str(path.resolve())
