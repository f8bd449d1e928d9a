"""Helpers for the app's Pilot tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edgeprompt.backends.base import Chunk, Request, StatsClock

SIZE = (100, 30)


class SlowEcho:
    """The echo backend's words, one every few milliseconds until cancelled: a long answer (outer-edge fake)."""

    name = "echo"
    context_length = 2048

    def __init__(self, words: int = 2000) -> None:
        self.words = words

    def count_tokens(self, messages: Any) -> int:
        return sum(len(m.content.split()) + 3 for m in messages)

    def stream(self, request: Request) -> Iterator[Chunk]:
        clock = StatsClock()
        finish = "stop"
        for i in range(self.words):
            if request.cancel is not None and request.cancel.wait(0.005):
                finish = "cancelled"
                break
            clock.token()
            yield Chunk(f"word{i} ")
        yield Chunk("", finish_reason=finish, stats=clock.stats(self.count_tokens(request.messages)))

    def close(self) -> None:
        return None


async def settle(app: Any, pilot: Any) -> None:
    """Wait until every worker is done and the messages they posted are handled."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def errors(app: Any) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]
