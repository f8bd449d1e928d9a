"""The cache key of a request as the pipeline builds it (a hit describes itself: `Lookup.trace_attributes`;
the offline fallback is `edgeprompt.pipeline.offline`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from edgeprompt.cache.keys import CacheQuery, SourceRef, build_query

if TYPE_CHECKING:
    from edgeprompt.backends.base import GenerationParams, Message
    from edgeprompt.rag.grounding import Grounding


def request_query(
    question: str,
    model_key: str,
    prompt_version: str,
    messages: Sequence[Message],
    params: GenerationParams,
    grounding: Grounding,
    history_len: int,
) -> CacheQuery:
    """The request's cache key: what the answer depends on, as far as the pipeline knows it before generating.
    `question` is the user's text (compared by the semantic level); `messages` are what the model would get;
    `model_key` names the model and its backend (`Cache.model_key`). The pipeline builds it for each request
    and for `cache seed`/`cache lookup` (edgeprompt.pipeline.cache_key)."""
    sources = [SourceRef(h.path, int(h.chunk_id), h.doc_sha256) for h in grounding.hits[: len(grounding.documents)]]
    retrieval = "off" if not grounding.used else "abstained" if grounding.abstained else "sources"
    return build_query(question, model_key, prompt_version, messages, params, sources, history_len, retrieval)
