"""The cache's pipeline stages in a few calls: build the request's key and describe a hit for the trace (the
offline fallback is `edgeprompt.pipeline.offline`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edgeprompt.cache.keys import CacheQuery, SourceRef, build_query

if TYPE_CHECKING:
    from edgeprompt.app import Runtime
    from edgeprompt.backends.base import GenerationParams, Message
    from edgeprompt.catalog.cards import ModelCard


def request_query(
    rt: Runtime,
    question: str,
    card: ModelCard,
    backend_name: str,
    prompt_version: str,
    messages: Sequence[Message],
    params: GenerationParams,
    grounding: Any,
    history_len: int,
) -> CacheQuery:
    """The request's cache key: what the answer depends on, as far as the pipeline knows it before generating.
    `question` is the user's text (compared by the semantic level); `messages` are what the model would get."""
    hits = tuple(getattr(grounding, "hits", ()))[: len(getattr(grounding, "documents", ()))]
    sources = [SourceRef(h.path, int(h.chunk_id), h.doc_sha256) for h in hits]
    retrieval = (
        "off"
        if not getattr(grounding, "used", False)
        else "abstained"
        if getattr(grounding, "abstained", False)
        else "sources"
    )
    return build_query(
        question,
        rt.cache().model_key(card, backend_name),
        prompt_version,
        messages,
        params,
        sources,
        history_len,
        retrieval,
    )


def query_for_question(rt: Runtime, question: str, model: str | None = None, prompt: str | None = None) -> CacheQuery:
    """The key the pipeline would compute for `question` asked in a new session (for `cache seed` and
    `cache lookup`): default model and prompt unless named, retrieval as configured."""
    from edgeprompt.backends.base import GenerationParams, Message
    from edgeprompt.rag.grounding import ground

    card = rt.card(model)
    backend = rt.backend(card.id)
    rendered = rt.registry().for_request(prompt, None, {"question": question})
    params = rendered.generation(GenerationParams.from_settings(rt.settings.section("generation")), None)
    grounding = ground(rt, question, [], None, None, backend.count_tokens, backend.context_length)
    system = [Message("system", rendered.system)] if rendered.system else []
    if (sources := grounding.message()) is not None:
        system.append(sources)
    return request_query(
        rt,
        question,
        card,
        backend.name,
        rendered.version,
        [*system, Message("user", rendered.user)],
        params,
        grounding,
        0,
    )
