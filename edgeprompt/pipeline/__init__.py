"""The request flow, written out as one plain function: `run(request, rt) -> Iterator[Event]`.

Read `run` top to bottom: each stage is a `with trace.span(...)` block that records its timing and
attributes in the request's trace. The caller iterates the events (tokens as they stream, notices,
and one final `Done` with the whole result). `rt` is anything with the `Components` it uses (the
composition root's Runtime). The stages `query_for_question` shares with `run` are functions here.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import GenerationParams, GenerationStats, Message, Request
from edgeprompt.cache.cache import MISS
from edgeprompt.cache.serve import request_query
from edgeprompt.errors import BackendUnavailableError, EdgepromptError, ModelLoadError, UsageError
from edgeprompt.firewall.stages import check_input, finish_output, isolate_prompt, output_guard
from edgeprompt.firewall.verdicts import StageVerdict
from edgeprompt.observatory.signals import embedder_for, energy_meter, record_signals
from edgeprompt.pipeline import offline
from edgeprompt.pipeline.components import Components
from edgeprompt.pipeline.context import fit
from edgeprompt.rag.grounding import Grounding, ground, is_fixed_abstention
from edgeprompt.rag.prompting import ABSTAIN_TEXT, TOY_ONLY_TEXT, fixed_answer
from edgeprompt.rag.retrieve import Filters
from edgeprompt.rag.support import check as check_support
from edgeprompt.routing.log import record_decision
from edgeprompt.store.traces import Trace
from edgeprompt.unicode import clean_text

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.cache.keys import CacheQuery
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.prompts.store import Rendered

MAX_QUESTION_CHARS = 100_000


@dataclass(frozen=True)
class AskRequest:
    question: str
    model: str | None = None
    backend: str | None = None  # force mlx | onnx for a card that has both
    session_id: str | None = None  # None: a new session
    params: GenerationParams | None = None  # None: from settings
    save: bool = True  # keep the exchange in the session
    session_kind: str = "chat"  # a new session's kind: chat, or ask (a one-off CLI ask, not in the chat lists)
    use_documents: bool | None = None  # None: the [rag] answer_from_documents setting
    filters: Any = None  # edgeprompt.rag.retrieve.Filters narrowing the document search
    prompt: str | None = None  # registry prompt "NAME[:LABEL]" or "NAME@VERSION"; None: the default prompt
    overrides: dict[str, Any] | None = field(default=None, compare=False)  # params set by the user (with params=None)
    cancel: threading.Event | None = field(default=None, compare=False)
    # API clients (edgeprompt.serve) send the conversation themselves: its earlier turns (None: the session's),
    # their own system text (after the prompt's), and a JSON schema the output stage checks the answer against
    history: tuple[Message, ...] | None = None
    system: str = ""
    schema: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AskResult:
    answer: str
    model: str
    session_id: str
    trace_id: str
    usage: dict[str, int]
    timings: dict[str, float]
    cached: bool = False
    cache: str = ""  # the cache level that served it: exact | semantic | fallback
    citations: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[StageVerdict] = field(default_factory=list)  # the firewall's, stage by stage
    abstained: bool = False
    finish_reason: str = "stop"
    backend: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    confidence: dict[str, float] = field(default_factory=dict)

    def speed(self, digits: int = 1) -> str:
        """The decode rate, or what made the answer when no model decoded it (cache, abstention, a quote, a
        fixed note): a fixed text's "0.0 tok/s" would read as a stalled model. "cached" appears once either way."""
        tps = float(self.timings.get("tokens_per_s") or 0.0)
        if tps > 0:
            return f"{tps:.{digits}f} tok/s" + (" · cached" if self.cached else "")
        if self.cached:
            return "cached"
        if self.abstained:
            return "abstained"
        return "quoted" if self.backend == "extractive" else "not generated"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`ask --json`, the API's extras): each verdict as its own dict."""
        d = asdict(replace(self, verdicts=[]))
        d["verdicts"] = [v.as_dict() for v in self.verdicts]
        return d


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Notice:
    text: str


@dataclass(frozen=True)
class Done:
    result: AskResult


Event = Token | Notice | Done


def _params(rt: Components, given: GenerationParams | None) -> GenerationParams:
    if given is not None:
        return given
    return GenerationParams.from_settings(rt.settings.section("generation"))


@dataclass(frozen=True)
class RenderedRequest:
    """The prompt stage's result: the registry's version, the system and user messages, the parameters."""

    rendered: Rendered
    system_text: str  # the prompt's system text, then the client's own
    system: list[Message]
    user: Message
    params: GenerationParams


def render_prompt(
    rt: Components,
    ref: str | None,
    session_id: str | None,
    question: str,
    params: GenerationParams,
    extra_system: str = "",
    overrides: dict[str, Any] | None = None,
    fixed_params: bool = False,
) -> RenderedRequest:
    """The system and user text from the registry (label production unless `ref` names one); unless the caller
    fixed the parameters, the version's own apply, then `overrides` (what the user set on the command line)."""
    rendered = rt.registry().for_request(ref, session_id, {"question": question})
    system_text = "\n\n".join(t for t in (rendered.system, extra_system) if t)
    return RenderedRequest(
        rendered,
        system_text,
        [Message("system", system_text)] if system_text else [],
        Message("user", rendered.user),
        params if fixed_params else rendered.generation(params, overrides),
    )


def retrieve(
    rt: Components,
    question: str,
    history: list[Message],
    use_documents: bool | None,
    filters: Filters | None,
    backend: Backend,
    route_tag: str = "",
) -> Grounding:
    """The retrieval stage over your documents (edgeprompt.rag.grounding), sized to `backend`'s window."""
    return ground(
        rt.documents(),
        lambda texts: rt.embedder().embed_batch(texts),
        question,
        history,
        use_documents,
        filters,
        backend.count_tokens,
        backend.context_length,
        route_tag,
    )


def with_sources(system: list[Message], grounding: Grounding) -> list[Message]:
    """The sources go after the system prompt as numbered passages."""
    return system if (sources := grounding.message()) is None else [*system, sources]


def cache_key(
    rt: Components,
    question: str,
    card: ModelCard,
    backend: Backend,
    prompt: RenderedRequest,
    system: list[Message],
    history: list[Message],
    grounding: Grounding,
) -> CacheQuery:
    """The request's cache key (edgeprompt.cache.serve.request_query) with the model as this cache names it."""
    return request_query(
        question,
        rt.cache().model_key(card, backend.name),
        prompt.rendered.version,
        [*system, *history, prompt.user],
        prompt.params,
        grounding,
        len(history),
    )


def query_for_question(
    rt: Components, question: str, model: str | None = None, prompt: str | None = None
) -> CacheQuery:
    """The key `run` would compute for `question` asked in a new session (for `cache seed` and `cache lookup`):
    default model and prompt unless named, retrieval as configured."""
    card = rt.card(model)
    backend = rt.backend(card.id)
    rendered = render_prompt(rt, prompt, None, question, _params(rt, None))
    grounding = retrieve(rt, question, [], None, None, backend)
    return cache_key(rt, question, card, backend, rendered, with_sources(rendered.system, grounding), [], grounding)


def _confidence(logprobs: list[float], entropies: list[float]) -> dict[str, float]:
    out: dict[str, float] = {}
    if logprobs:
        out["mean_logprob"] = sum(logprobs) / len(logprobs)
        out["perplexity"] = math.exp(-out["mean_logprob"])
    if entropies:
        out["mean_entropy"] = sum(entropies) / len(entropies)
    return out


def generation_attributes(
    model: str, params: GenerationParams, stats: GenerationStats, finish: str, confidence: dict[str, float]
) -> dict[str, Any]:
    """The `generate` span: what was asked of the model and how it went (OpenTelemetry GenAI names)."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": params.max_tokens,
        "gen_ai.request.temperature": params.temperature,
        "gen_ai.request.top_p": params.top_p,
        "gen_ai.request.seed": params.seed,
        "gen_ai.usage.input_tokens": stats.prompt_tokens,
        "gen_ai.usage.output_tokens": stats.completion_tokens,
        "gen_ai.response.finish_reasons": [finish],
        # a fixed text (abstention, cache, block, the extractive quote) has no decode rate and no real first
        # token: its ~0 ms would pull the observatory's first-token median to 0
        "edgeprompt.ttft_ms": stats.ttft_ms if stats.tokens_per_s > 0 else None,
        "edgeprompt.tokens_per_s": stats.tokens_per_s,
        "edgeprompt.prefix.reused_tokens": stats.reused_tokens,
        "edgeprompt.prefix.new_tokens": stats.prompt_tokens - stats.reused_tokens,
        **({"edgeprompt.prefix.note": stats.prefix_note} if stats.prefix_note else {}),
        **{f"edgeprompt.confidence.{k}": v for k, v in confidence.items()},
    }


def run(request: AskRequest, rt: Components) -> Iterator[Event]:
    question = clean_text(request.question).strip()
    if not question:
        raise UsageError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(f"the question has {len(question)} characters; the limit is {MAX_QUESTION_CHARS}")
    trace = Trace(operation="chat")
    observatory = rt.settings.section("observatory")
    meter = energy_meter(observatory["watts_per_core"])  # energy per answer (RAPL, else a CPU-time estimate)
    params = _params(rt, request.params)
    notices: list[str] = []
    pieces: list[str] = []  # the answer's text as generated; the offline fallback serves only while it is empty
    try:
        # 1. session: load or create, and read the history
        with trace.span("session.load") as s:
            sessions = rt.sessions
            # an exchange that is not kept makes no session (no empty rows in the chat list)
            session_id = (
                sessions.resolve(request.session_id)
                if request.session_id
                else sessions.create(model=request.model, kind=request.session_kind).id
                if request.save
                else ""
            )
            history = (
                list(request.history)
                if request.history is not None
                else [
                    Message(t.role, t.content)
                    for t in (sessions.turns(session_id) if session_id else [])
                    if not t.meta.get("interrupted")
                ]
            )
            attached = sessions.attachments(session_id) if request.session_id else []
            trace.session_id = session_id or None
            s.attributes.update(
                {
                    "gen_ai.conversation.id": session_id,
                    "edgeprompt.history.turns": len(history),
                    "edgeprompt.session.attachments": len(attached),
                }
            )

        # 1b. route: without -m, the request's task tag picks the model (edgeprompt.routing.router); a leading
        #     `@tag` is routing syntax and leaves the question
        with trace.span("route") as s:
            route = rt.router().for_request(question, request.model)
            question = route.text or question
            s.attributes.update(route.trace_attributes())
            trace.attributes.update(route.trace_attributes())
            record_decision(rt, route, trace.id, "ask")

        # 1c. firewall: score the question for prompt injection (edgeprompt.firewall); a block answers with a safe
        #     message and no generation (the exchange is still saved), a flag goes on with a notice; audited
        with trace.span("firewall.input") as s:
            firewall = rt.active_firewall()
            screen = check_input(firewall, question, trace.id)
            s.attributes.update(screen.trace_attributes())
            if screen.notice:
                notices.append(screen.notice)
                yield Notice(screen.notice)

        # 2. model: the card and its backend for this machine
        with trace.span("model.load") as s:
            card = rt.card(route.model)
            backend = rt.backend(card.id, request.backend)
            trace.model = card.id
            s.attributes.update({"gen_ai.request.model": card.id, "gen_ai.provider.name": backend.name})

        # 3. prompt: system text and user text rendered from the registry (label production unless named);
        #    the trace records the exact version (and A/B arm) that produced this answer
        with trace.span("prompt.render") as s:
            prompt = render_prompt(
                rt,
                request.prompt,
                session_id,
                question,
                params,
                request.system,
                request.overrides,
                fixed_params=request.params is not None,
            )
            rendered, system_text, system, user, params = (
                prompt.rendered,
                prompt.system_text,
                prompt.system,
                prompt.user,
                prompt.params,
            )
            s.attributes.update(rendered.trace_attributes())
            trace.attributes.update(rendered.trace_attributes())

        # 3b. retrieval: search your documents with the question (a follow-up is first rewritten with the
        #     conversation); the best chunks go after the system prompt as numbered sources; when none is
        #     relevant enough, a question about the user's own things abstains, any other is answered
        #     without documents (edgeprompt.rag.grounding)
        with trace.span("retrieval") as s:
            # a chat with attached files answers from them only (unless the request narrows or opts out itself)
            use_docs = True if attached and request.use_documents is None else request.use_documents
            filters = request.filters or (Filters(within=tuple(attached)) if attached else None)
            grounding = retrieve(
                rt, question, history, False if screen.blocked else use_docs, filters, backend, route.route
            )
            system = with_sources(system, grounding)
            for note in grounding.notices:
                notices.append(note)
                yield Notice(note)
            s.attributes.update(grounding.trace_attributes())
            if (
                grounding.documents
                and not grounding.abstained
                and request.backend is None
                and (moved := rt.router().answered_by_documents(route, card)) is not None
            ):
                route, card = moved, rt.card(moved.model)  # the demo toy would bury the sources in noise
                backend = rt.backend(card.id)
                trace.model = card.id
                s.attributes.update(route.trace_attributes())
                trace.attributes.update(route.trace_attributes())
            # a question the documents do not answer, routed to the toy without -m: say that a model is missing
            toy_only = "demo" in card.tags and request.model is None and not grounding.documents

        # 3c. cache: an exact repeat, or a near-duplicate question that passes every guard (same model, prompt
        #     version, context and sources; no differing numbers, dates, units, names, negation or persons) is
        #     answered from the cache (edgeprompt.cache)
        with trace.span("cache.lookup") as s:
            cache_query = cache_key(rt, question, card, backend, prompt, system, history, grounding)
            # (when the documents have no answer, a seeded answer for this question still may: `cache seed`)
            cached = MISS if screen.blocked else rt.cache().lookup(cache_query)
            s.attributes.update(cached.trace_attributes())
            trace.attributes.update(cached.trace_attributes())

        # 3d. firewall: scan every retrieved passage again (flagged ones are left out, or kept marked), then put the
        #     system text, passages, history and question in isolated sections with a per-request boundary
        with trace.span("firewall.isolate") as s:
            parts = isolate_prompt(firewall, system, system_text, grounding.documents, history, user, trace.id)
            system, history, user = parts.system, parts.history, parts.user
            for note in parts.notices:
                notices.append(note)
                yield Notice(note)
            s.attributes.update(parts.trace_attributes())

        # 4. context: fit system + history + question in the window, say what was left out
        with trace.span("context.fit") as s:
            ctx = rt.settings.section("context")
            messages, report = fit(
                system,
                history,
                user,
                backend.count_tokens,
                backend.context_length,
                min(int(ctx["reserve_for_answer"]), params.max_tokens),
                bool(ctx["summarize_dropped"]),
            )
            s.attributes.update(report.trace_attributes())
            if (fit_note := report.notice()) is not None:
                notices.append(fit_note)
                yield Notice(fit_note)
            room = backend.context_length - report.prompt_tokens
            if params.max_tokens > room:
                # keep the rest (min_tokens too: benchmarks ask for fixed lengths), capped to the room left
                params = replace(params, max_tokens=room, min_tokens=min(params.min_tokens, room))

        # 5. generate: stream tokens from the backend
        logprobs: list[float] = []
        entropies: list[float] = []
        stats: GenerationStats | None = None
        finish = "stop"
        with trace.span("generate") as s:
            # stage 3 holds back a short window so no token shows a secret
            guard = output_guard(firewall, parts, request.schema)
            stream = (
                fixed_answer(screen.answer, report.prompt_tokens)
                if screen.blocked
                else fixed_answer(cached.answer or "", report.prompt_tokens)
                if cached.hit
                else fixed_answer(ABSTAIN_TEXT, report.prompt_tokens)
                if grounding.abstained
                else fixed_answer(TOY_ONLY_TEXT, report.prompt_tokens)
                if toy_only
                else backend.stream(
                    Request(
                        tuple(messages),
                        params,
                        request.cancel,
                        parts.documents,
                        question=rendered.user,
                        query=grounding.query,
                    )
                )
            )
            for chunk in stream:
                if chunk.text:
                    pieces.append(chunk.text)
                    if shown := guard.feed(chunk.text):
                        yield Token(shown)
                if chunk.logprob is not None:
                    logprobs.append(chunk.logprob)
                if chunk.entropy is not None:
                    entropies.append(chunk.entropy)
                if chunk.finish_reason is not None:
                    finish, stats = chunk.finish_reason, chunk.stats
            stats = stats or GenerationStats(report.prompt_tokens, len(pieces), 0.0, s.duration_ms, 0.0)
            confidence = _confidence(logprobs, entropies)
            s.attributes.update(generation_attributes(card.id, params, stats, finish, confidence))
        answer = "".join(pieces)

        # 5a. firewall: release the held-back tail and validate the whole answer (PII, secrets, canary and prompt
        #     leaks, data-carrying links); the redacted answer (or the safe message) is what is cached and saved
        with trace.span("firewall.output") as s:
            checked = finish_output(firewall, guard, trace.id)
            if checked.tail:
                yield Token(checked.tail)
            answer = checked.answer
            if checked.notice:
                notices.append(checked.notice)
                yield Notice(checked.notice)
            s.attributes.update(checked.trace_attributes())
        if finish == "cancelled":
            notices.append("the answer was cancelled before it finished")

        # 5a'. grounding: a generated answer from documents is checked sentence by sentence against the sources
        #      it cites; unsupported sentences are marked (edgeprompt.rag.support). Extractive answers are quotes.
        if (
            grounding.documents
            and not grounding.abstained
            and not cached.hit
            and not screen.blocked
            and backend.name != "extractive"
            and answer.strip()
        ):
            with trace.span("grounding.support") as s:
                support = check_support(
                    grounding.query or question,
                    answer,
                    grounding.documents,
                    lambda texts: rt.embedder().embed_batch(texts),
                )
                answer = support.answer
                if (support_note := support.notice()) is not None:
                    notices.append(support_note)
                    yield Notice(support_note)
                s.attributes.update(support.trace_attributes())
                trace.attributes.update(support.trace_attributes())

        # 5b. cache: keep the answer for next time unless it failed output validation, was sampled (unless
        #     configured), was cancelled, was thumbed down before, or came from the cache
        with trace.span("cache.store") as s:
            if not cached.hit and not grounding.abstained and not toy_only:
                gen = trace.stage("generate")
                kept = rt.cache().store(
                    cache_query,
                    answer,
                    trace_id=trace.id,
                    usage=(stats.prompt_tokens, stats.completion_tokens),
                    generation_ms=gen.duration_ms if gen else 0.0,
                    validated=screen.passed and checked.passed,
                    finish=finish,
                )
                s.attributes.update(kept.trace_attributes())

        # 6. save: the exchange goes into the session as one unit
        with trace.span("session.save"):
            if request.save and session_id:
                rt.sessions.add_exchange(
                    session_id,
                    question,
                    answer,
                    trace.id,
                    (stats.prompt_tokens, stats.completion_tokens),
                    {
                        "model": card.id,
                        "finish_reason": finish,
                        "interrupted": finish == "cancelled",
                        # the sources stay with the answer (export, reopening the chat)
                        "sources": [
                            {k: c[k] for k in ("n", "path", "location", "cited")} for c in grounding.citations(answer)
                        ],
                    },
                )

        # 7. observe: what the observatory needs, without text: MiniLM embeddings of question and answer and a
        #    few question keywords (table obs_signals), refusal/abstention flags and energy on the span
        with trace.span("observe.signals") as s:
            s.attributes.update(
                record_signals(
                    rt.db,
                    lambda: embedder_for(observatory, rt.embedder),
                    bool(observatory["keywords"]),
                    trace.id,
                    question,
                    answer,
                    meter,
                )
            )

        trace.status = "cancelled" if finish == "cancelled" else "ok"
        trace.attributes.update(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": card.id,
                "gen_ai.usage.input_tokens": stats.prompt_tokens,
                "gen_ai.usage.output_tokens": stats.completion_tokens,
                "edgeprompt.backend": backend.name,
                "edgeprompt.finish_reason": finish,
            }
        )
        if grounding.abstains(answer):  # the fixed "not in your documents" / "no model" answers abstain too
            trace.attributes["edgeprompt.answer.abstention"] = True
        if rt.settings.get("trace.capture_content"):
            trace.attributes.update({"gen_ai.input.messages": question, "gen_ai.output.messages": answer})
        # the sources' share of the prompt (inside system_tokens), for the app's context-budget line
        docs_tokens = backend.count_tokens([sources]) if (sources := grounding.message()) is not None else 0
        result = AskResult(
            answer=answer,
            model=card.id,
            session_id=session_id,
            trace_id=trace.id,
            usage={"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens},
            timings={
                "ttft_ms": round(stats.ttft_ms, 2),
                "total_ms": round(trace.now_ms(), 2),
                "tokens_per_s": round(stats.tokens_per_s, 2),
            },
            citations=grounding.citations(answer),
            # a cache hit answers what retrieval could not (a seeded answer), unless it is a fixed abstention
            abstained=is_fixed_abstention(answer) if cached.hit else grounding.abstains(answer),
            cached=cached.hit,
            cache=cached.level if cached.hit else "",
            finish_reason=finish,
            backend=backend.name,
            notices=notices,
            context={**report.as_dict(), "documents_tokens": docs_tokens},
            verdicts=[*screen.verdicts, *parts.verdicts, *checked.verdicts],
            confidence={k: round(v, 4) for k, v in confidence.items()},
        )
    except (GeneratorExit, KeyboardInterrupt):
        trace.status = "cancelled"
        raise
    except (ModelLoadError, BackendUnavailableError, RuntimeError, MemoryError) as e:
        # offline fallback: the model could not load or run before any text was shown, so a fresh-enough
        # cached answer to this question is served instead, marked as such (edgeprompt.pipeline.offline)
        served = None if pieces else _offline(rt, request, question, trace, e)
        if served is None:
            trace.status = "error"
            trace.attributes["error.type"] = type(e).__name__
            raise
        yield Notice(served.notices[0])
        yield Token(served.answer)
        result = served
    except BaseException as e:
        trace.status = "error"
        trace.attributes["error.type"] = type(e).__name__
        raise
    finally:
        with contextlib.suppress(Exception):  # a trace must never hide the real outcome of the request
            rt.traces.save(trace)
            rt.export_trace(trace)  # only when [observatory] otlp_endpoint is set
    yield Done(result)


def _offline(
    rt: Components, request: AskRequest, question: str, trace: Trace, error: BaseException
) -> AskResult | None:
    """The cached answer served when the model failed before showing any text, saved like any other exchange;
    None if none is fresh enough."""
    try:
        model_id = rt.card(trace.attributes.get("edgeprompt.route.model") or request.model).id
        served = offline.cached_answer(rt.cache(), model_id, question, error)
    except EdgepromptError:
        return None
    if served is None:
        return None
    trace.attributes.update(served.attributes)
    trace.status = "ok"
    if request.save and trace.session_id:  # a one-off `ask` keeps no session
        rt.sessions.add_exchange(
            trace.session_id,
            question,
            served.answer,
            trace.id,
            (0, 0),
            {"model": model_id, "finish_reason": "stop", "cached": "fallback"},
        )
    return AskResult(
        answer=served.answer,
        model=model_id,
        session_id=trace.session_id or "",
        trace_id=trace.id,
        usage={"prompt_tokens": 0, "completion_tokens": 0},
        timings={"total_ms": round(trace.now_ms(), 2)},
        cached=True,
        cache="fallback",
        notices=[served.notice],
    )
