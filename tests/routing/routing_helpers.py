"""Test helpers for routing, tools and plans: a scripted backend (the outer edge) and model cards."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from edgeprompt.backends.base import Chunk, GenerationStats, Message, Request
from edgeprompt.catalog.cards import ModelCard


class ScriptedBackend:
    """Replies with scripted texts in order (or a function of the messages), word by word, honouring
    cancellation and max_tokens like a real backend; records every request it saw."""

    name = "scripted"

    def __init__(
        self,
        replies: Sequence[str] | Callable[[Sequence[Message]], str],
        model_id: str = "scripted",
        context_length: int = 4096,
        on_token: Callable[[int], None] | None = None,
    ) -> None:
        self.replies = replies
        self.model_id = model_id
        self.context_length = context_length
        self.requests: list[Request] = []
        self.on_token = on_token

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) + 3 for m in messages)

    def _reply(self, messages: Sequence[Message]) -> str:
        if callable(self.replies):
            return self.replies(messages)
        return self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]

    def stream(self, request: Request) -> Iterator[Chunk]:
        self.requests.append(request)
        words = self._reply(request.messages).split(" ")
        finish, n = "stop", 0
        for i, w in enumerate(words):
            if request.cancelled:
                finish = "cancelled"
                break
            if i >= request.params.max_tokens:
                finish = "length"
                break
            if self.on_token:
                self.on_token(i)
            n += 1
            yield Chunk(w + (" " if i < len(words) - 1 else ""))
        stats = GenerationStats(self.count_tokens(request.messages), n, 0.0, 0.0, 0.0)
        yield Chunk("", finish_reason=finish, stats=stats)

    def close(self) -> None:
        return None


def card(
    model_id: str,
    tags: tuple[str, ...],
    *,
    backend: str = "echo",
    size_mb: float = 0.0,
    quantization: str = "",
    context_length: int = 2048,
    description: str = "",
    **kw: Any,
) -> ModelCard:
    return ModelCard(
        id=model_id,
        backend=backend,
        tags=tags,
        size_mb=size_mb,
        quantization=quantization,
        context_length=context_length,
        description=description,
        **kw,
    )


def blocking_event_after(n_tokens: int, event: threading.Event) -> Callable[[int], None]:
    """An on_token hook that sets `event` once n tokens were produced (a user pressing stop mid-answer)."""

    def hook(i: int) -> None:
        if i >= n_tokens:
            event.set()

    return hook


def write_config(home: Any, text: str) -> None:
    """A config.toml for a data home that is opened afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")
