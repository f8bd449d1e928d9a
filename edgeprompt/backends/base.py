"""The model-execution seam: `Backend.stream(request) -> Iterator[Chunk]`.

Every backend takes chat messages, applies its model's chat template, streams text pieces, honours
max tokens, temperature, top-p, seed, stop strings and cancellation, and ends with one chunk that
carries `finish_reason` and `GenerationStats`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    min_tokens: int = 0  # the end-of-turn token is suppressed until this many (benchmarks: fixed lengths)

    @classmethod
    def from_settings(
        cls,
        generation: Mapping[str, Any],
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> GenerationParams:
        """The `[generation]` settings section; a value given here (not None) wins over its setting."""
        return cls(
            max_tokens=int(generation["max_tokens"] if max_tokens is None else max_tokens),
            temperature=float(generation["temperature"] if temperature is None else temperature),
            top_p=float(generation["top_p"] if top_p is None else top_p),
            seed=int(generation["seed"] if seed is None else seed),
        )


@dataclass(frozen=True)
class Document:
    """A numbered source retrieved for this request (edgeprompt.rag); extractive answers quote these."""

    n: int
    text: str
    path: str = ""
    location: str = ""
    score: float = 0.0  # relevance to the question (cosine similarity)
    context: str = ""  # "Title > Heading": what the text is part of


@dataclass(frozen=True)
class Request:
    messages: tuple[Message, ...]
    params: GenerationParams = GenerationParams()
    cancel: threading.Event | None = field(default=None, compare=False)
    documents: tuple[Document, ...] = ()  # retrieved sources, numbered from 1
    # the user's turn as rendered from the prompt template (the prompt's copy sits between boundary-marked
    # section lines), and the question the documents were searched with when retrieval rewrote a follow-up
    question: str = ""
    query: str = ""

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    total_ms: float
    tokens_per_s: float  # decode rate: (completion_tokens - 1) / (time from first to last token)
    prompt_tps: float = 0.0
    reused_tokens: int = 0  # prompt tokens served from a prefix (KV) cache
    prefix_note: str = ""  # why fewer (or no) prompt tokens were reused, where the backend says


@dataclass(frozen=True, slots=True)  # one per token: slots make it cheaper to build
class Chunk:
    text: str
    token_id: int | None = None
    logprob: float | None = None  # natural-log probability of the sampled token, where exposed
    entropy: float | None = None  # of the next-token distribution, where exposed
    finish_reason: str | None = None  # last chunk only: stop | length | cancelled
    stats: GenerationStats | None = None  # last chunk only


@runtime_checkable
class Backend(Protocol):
    name: str
    model_id: str
    context_length: int

    def stream(self, request: Request) -> Iterator[Chunk]: ...

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens these messages take after the chat template is applied."""
        ...

    def close(self) -> None: ...


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Tokens two id sequences share from the start: what a prefix (KV) cache can reuse."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class StopMatcher:
    """Holds back streamed text that could still turn into a stop string, so none is ever shown."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.buffer = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Return the text that is safe to emit now."""
        if self.stopped:
            return ""
        self.buffer += piece
        if not self.stops:
            out, self.buffer = self.buffer, ""
            return out
        cut = min((i for s in self.stops if (i := self.buffer.find(s)) >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            out, self.buffer = self.buffer[:cut], ""
            return out
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.buffer)), 0, -1):
                if self.buffer.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        out = self.buffer[: len(self.buffer) - hold]
        self.buffer = self.buffer[len(self.buffer) - hold :]
        return out

    def flush(self) -> str:
        out, self.buffer = ("" if self.stopped else self.buffer), ""
        return out


class StatsClock:
    """Measures TTFT and decode rate the same way for every backend."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self.t0 = self._now()
        self.t_first: float | None = None
        self.t_last: float | None = None
        self.tokens = 0

    def token(self) -> None:
        t = self._now()
        if self.t_first is None:
            self.t_first = t
        self.t_last = t
        self.tokens += 1

    def stats(self, prompt_tokens: int, reused_tokens: int = 0) -> GenerationStats:
        end = self._now()
        ttft = ((self.t_first or end) - self.t0) * 1000.0
        decode_s = (self.t_last - self.t_first) if self.t_first and self.t_last else 0.0
        tps = (self.tokens - 1) / decode_s if self.tokens > 1 and decode_s > 0 else 0.0
        prefill = max(prompt_tokens - reused_tokens, 0)
        ptps = prefill / (ttft / 1000.0) if ttft > 0 and prefill else 0.0
        return GenerationStats(prompt_tokens, self.tokens, ttft, (end - self.t0) * 1000.0, tps, ptps, reused_tokens)
