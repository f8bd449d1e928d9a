"""A multi-turn chat over documents, timed turn by turn with and without prefix (KV) reuse.

Every turn sends the documents (a ~1,000-token system prompt), the whole history and a new question. Each
turn runs twice on the same loaded model, cold (reuse switched off) then warm (reuse on, its live state
carried over from the previous warm turn), so the machine's drift falls on both alike; the greedy answers
must match, and the warm answer is what the history keeps. Behind `edgeprompt bench --chat`.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from edgeprompt.backends.base import GenerationParams, Message, Request
from edgeprompt.errors import UsageError

CHAT_QUESTIONS = (
    "What is the text about?",
    "Who appears in it first?",
    "Where does it take place?",
    "What happens next?",
    "Why does that matter?",
    "Which detail surprised you?",
    "Summarise the last answer in a line.",
    "What would the narrator do now?",
    "Name two objects from the text.",
    "How does it end?",
    "What is the moral?",
    "Which question is still open?",
)


@dataclass(frozen=True)
class TimedTurn:
    """One turn: its prompt length, the prompt tokens the warm run reused, and both times to first token."""

    n: int
    prompt_tokens: int
    reused_tokens: int
    ttft_cold_ms: float
    ttft_warm_ms: float
    same_output: bool

    @property
    def speedup(self) -> float:
        return round(self.ttft_cold_ms / self.ttft_warm_ms, 2) if self.ttft_warm_ms else 0.0


@dataclass(frozen=True)
class ChatBench:
    model: str
    backend: str
    turns: tuple[TimedTurn, ...]
    load_average: tuple[float, float]  # 1-minute load average before and after: the machine is shared

    def summary(self) -> dict[str, Any]:
        t = self.turns
        return {
            "model": self.model,
            "backend": self.backend,
            "turns": len(t),
            "prompt_tokens_first_last": [t[0].prompt_tokens, t[-1].prompt_tokens],
            "ttft_warm_ms": [round(x.ttft_warm_ms, 1) for x in t],
            "ttft_cold_ms": [round(x.ttft_cold_ms, 1) for x in t],
            "reused_tokens": [x.reused_tokens for x in t],
            "speedup_per_turn": [x.speedup for x in t],
            "speedup_median_after_turn1": round(statistics.median([x.speedup for x in t[1:]]), 2) if len(t) > 1 else 0,
            "last_over_first_warm": round(t[-1].ttft_warm_ms / t[0].ttft_warm_ms, 3),
            "last_over_second_warm": round(t[-1].ttft_warm_ms / t[1].ttft_warm_ms, 3) if len(t) > 1 else 0,
            "same_output": all(x.same_output for x in t),
            "load_average_before_after": list(self.load_average),
        }


@contextmanager
def reuse_off(backend: Any) -> Iterator[None]:
    """Switch a backend's prefix reuse off for one request, keeping its live state for the next warm one."""
    attr = "generators" if hasattr(backend, "generators") else "prefix_cache"
    kept = getattr(backend, attr)
    setattr(backend, attr, None)
    try:
        yield
    finally:
        setattr(backend, attr, kept)


def _run(backend: Any, messages: tuple[Message, ...], max_tokens: int) -> tuple[str, Any]:
    text, stats = [], None
    for chunk in backend.stream(Request(messages, GenerationParams(max_tokens=max_tokens))):
        text.append(chunk.text)
        stats = chunk.stats or stats
    return "".join(text), stats


def chat_bench(
    backend: Any, system: Message, turns: int = 10, max_tokens: int = 32, progress: Callable[[str], None] | None = None
) -> ChatBench:
    """`backend` must have its prefix reuse on (`generators` for onnx, `prefix_cache` for MLX)."""
    if getattr(backend, "generators", None) is None and getattr(backend, "prefix_cache", None) is None:
        raise UsageError(f"{backend.name}: prefix reuse is off (setting cache.prefix)")
    if not 1 <= turns <= len(CHAT_QUESTIONS):
        raise UsageError(f"--turns must be 1 to {len(CHAT_QUESTIONS)}")
    before = os.getloadavg()[0]
    # first-use costs (allocations, kernels), on another system prompt: turn 1 finds its documents new
    _run(backend, (Message("system", "Warm up."), Message("user", "Hello.")), 2)
    history: tuple[Message, ...] = (system,)
    out = []
    for i, question in enumerate(CHAT_QUESTIONS[:turns]):
        history += (Message("user", question),)
        with reuse_off(backend):
            cold_text, cold = _run(backend, history, max_tokens)
        warm_text, warm = _run(backend, history, max_tokens)
        out.append(
            TimedTurn(i + 1, warm.prompt_tokens, warm.reused_tokens, cold.ttft_ms, warm.ttft_ms, cold_text == warm_text)
        )
        if progress:
            progress(
                f"  turn {i + 1}: {warm.prompt_tokens} prompt tokens, cold {cold.ttft_ms:.0f} ms, "
                f"warm {warm.ttft_ms:.0f} ms reusing {warm.reused_tokens}"
            )
        history += (Message("assistant", warm_text),)
    return ChatBench(backend.model_id, backend.name, tuple(out), (before, os.getloadavg()[0]))
