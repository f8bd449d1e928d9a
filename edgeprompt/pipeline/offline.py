"""The offline fallback: when the model cannot load or run before any text was shown, a fresh-enough cached
answer to the same question is served instead, marked as such (the pipeline saves it like any other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprompt.cache import Cache, Lookup


@dataclass(frozen=True)
class Fallback:
    answer: str
    notice: str  # says the model failed and how old the cached answer is
    attributes: dict[str, Any]  # for the request's trace


def notice(found: Lookup, error: BaseException) -> str:
    minutes = found.age_s / 60
    age = f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.0f} hours"
    return (
        f"the model could not run ({type(error).__name__}); this is a cached answer from {age} ago "
        f"to {'this question' if found.similarity >= 0.9999 else 'a near-identical question'}"
    )


def cached_answer(cache: Cache, model_id: str, question: str, error: BaseException) -> Fallback | None:
    """The cached answer to `question` from `model_id`, or None when none is fresh enough."""
    found = cache.fallback(question, model_id)
    if not found.hit or found.answer is None:
        return None
    return Fallback(
        found.answer,
        notice(found, error),
        {**found.trace_attributes(), "edgeprompt.cache.fallback_error": type(error).__name__},
    )
