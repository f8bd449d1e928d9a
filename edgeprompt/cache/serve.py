"""The cache's pipeline stages in a few calls: build the request's key, describe a hit for the trace, decide
whether an answer may be stored, and answer from the cache when the model cannot load or run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edgeprompt.cache.cache import Lookup
from edgeprompt.cache.keys import CacheQuery, SourceRef, build_query

if TYPE_CHECKING:
    from edgeprompt.app import Runtime
    from edgeprompt.backends.base import GenerationParams, Message
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.store.traces import Trace

# A firewall span with any of these attribute values means the answer failed output validation
_FAILED = {"block", "blocked", "redact", "redacted", "flag", "flagged", "fail", "failed"}


def request_query(rt: Runtime, question: str, card: ModelCard, backend_name: str, prompt_version: str,
                  messages: Sequence[Message], params: GenerationParams, grounding: Any,
                  history_len: int) -> CacheQuery:
    """The request's cache key: what the answer depends on, as far as the pipeline knows it before generating.
    `question` is the user's text (compared by the semantic level); `messages` are what the model would get."""
    hits = tuple(getattr(grounding, "hits", ()))[: len(getattr(grounding, "documents", ()))]
    sources = [SourceRef(h.path, int(h.chunk_id), h.doc_sha256) for h in hits]
    retrieval = ("off" if not getattr(grounding, "used", False) else
                 "abstained" if getattr(grounding, "abstained", False) else "sources")
    return build_query(question, rt.cache().model_key(card, backend_name), prompt_version, messages, params,
                       sources, history_len, retrieval)


def query_for_question(rt: Runtime, question: str, model: str | None = None, prompt: str | None = None) -> CacheQuery:
    """The key the pipeline would compute for `question` asked in a new session (for `cache seed` and
    `cache lookup`): default model and prompt unless named, retrieval as configured."""
    from edgeprompt.backends.base import GenerationParams, Message
    from edgeprompt.rag.grounding import ground

    card = rt.card(model)
    backend = rt.backend(card.id)
    rendered = rt.registry().for_request(prompt, None, {"question": question})
    g = rt.settings.section("generation")
    params = rendered.generation(GenerationParams(max_tokens=int(g["max_tokens"]), temperature=float(g["temperature"]),
                                                  top_p=float(g["top_p"]), seed=int(g["seed"])), None)
    grounding = ground(rt, question, [], None, None, backend.count_tokens, backend.context_length)
    system = [Message("system", rendered.system)] if rendered.system else []
    if (sources := grounding.message()) is not None:
        system.append(sources)
    return request_query(rt, question, card, backend.name, rendered.version, [*system, Message("user", rendered.user)],
                         params, grounding, 0)


def trace_attributes(found: Lookup) -> dict[str, Any]:
    attrs: dict[str, Any] = {"edgeprompt.cache.hit": found.hit, "edgeprompt.cache.level": found.level}
    if found.similarity:
        attrs["edgeprompt.cache.similarity"] = round(found.similarity, 4)
    if found.entry_id is not None:
        attrs["edgeprompt.cache.entry_id" if found.hit else "edgeprompt.cache.candidate_id"] = found.entry_id
    vetoes = [k for k, g in found.guards.items() if not g["pass"]]
    if vetoes and not found.hit:
        attrs["edgeprompt.cache.vetoed_by"] = vetoes
    return attrs


def validated(trace: Trace) -> bool:
    """False when an output-validation stage (a span named firewall.*) before this one failed the answer."""
    for span in trace.spans:
        if not span.name.startswith("firewall"):
            continue
        for key, value in span.attributes.items():
            if key.endswith(".passed") and value is False:
                return False
            if key.endswith((".decision", ".action")) and str(value).lower() in _FAILED:
                return False
    return True


def fallback_notice(found: Lookup, error: BaseException) -> str:
    minutes = found.age_s / 60
    age = f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.0f} hours"
    return (f"the model could not run ({type(error).__name__}); this is a cached answer from {age} ago "
            f"to {'this question' if found.similarity >= 0.9999 else 'a near-identical question'}")


def fallback(rt: Runtime, request: Any, question: str, trace: Trace, error: BaseException) -> tuple[str, Any] | None:
    """(answer, AskResult) from the cache when the model failed before showing any text; None if none is fresh
    enough. The exchange is saved like any other, and the result says it is a cached fallback."""
    from edgeprompt.errors import EdgepromptError
    from edgeprompt.pipeline import AskResult

    try:
        model_id = rt.card(trace.attributes.get("edgeprompt.route.model") or request.model).id
        found = rt.cache().fallback(question, model_id)
    except EdgepromptError:
        return None
    if not found.hit or found.answer is None or trace.session_id is None:
        return None
    note = fallback_notice(found, error)
    trace.attributes.update({**trace_attributes(found), "edgeprompt.cache.fallback_error": type(error).__name__})
    trace.status = "ok"
    if request.save:
        rt.sessions.add_exchange(trace.session_id, question, found.answer, trace.id, (0, 0),
                                 {"model": model_id, "finish_reason": "stop", "cached": "fallback"})
    return found.answer, AskResult(
        answer=found.answer, model=model_id, session_id=trace.session_id, trace_id=trace.id,
        usage={"prompt_tokens": 0, "completion_tokens": 0}, timings={"total_ms": round(trace.now_ms(), 2)},
        cached=True, cache="fallback", notices=[note])
