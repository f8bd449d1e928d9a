"""A deterministic fake that answers with the final user message, word by word (tests and `-m echo`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from edgeprompt.backends.base import Chunk, Message, Request, StatsClock, StopMatcher

_WORD = re.compile(r"\S+\s*|\s+")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text)


class EchoBackend:
    name = "echo"

    def __init__(self, model_id: str = "echo", context_length: int = 2048) -> None:
        self.model_id = model_id
        self.context_length = context_length

    def count_tokens(self, messages: Sequence[Message]) -> int:
        # one token per word plus three per message for the role framing, like a chat template would
        return sum(len(_tokens(m.content)) + 3 for m in messages)

    def stream(self, request: Request) -> Iterator[Chunk]:
        clock = StatsClock()
        prompt_tokens = self.count_tokens(request.messages)
        last_user = request.question or next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        stop = StopMatcher(request.params.stop)
        finish = "stop"
        for i, piece in enumerate(_tokens(last_user)):
            if request.cancelled:
                finish = "cancelled"
                break
            if i >= request.params.max_tokens:
                finish = "length"
                break
            clock.token()
            out = stop.feed(piece)
            if out:
                yield Chunk(out, token_id=i, logprob=0.0, entropy=0.0)
            if stop.stopped:
                break
        tail = stop.flush()
        if tail:
            yield Chunk(tail)
        yield Chunk("", finish_reason=finish, stats=clock.stats(prompt_tokens))

    def close(self) -> None:
        return None
