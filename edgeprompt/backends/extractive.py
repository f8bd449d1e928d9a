"""The extractive "model": answers by quoting the retrieved sources (`Request.documents`) with [n]
citations, or abstains. No language model, so it runs offline on any laptop; MiniLM picks sentences."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from edgeprompt.backends.base import Chunk, Message, Request

if TYPE_CHECKING:
    from edgeprompt.embed import Embedder

_PIECE = re.compile(r"\S+\s*|\s+")


class ExtractiveBackend:
    name = "extractive"

    def __init__(self, model_id: str = "extractive", context_length: int = 8192) -> None:
        self.model_id = model_id
        self.context_length = context_length
        self._embedder: Callable[[], Embedder] | None = None
        self.judge = True  # the short answer the answerability judge finds; off: the best sentences quoted

    def bind_embedder(self, factory: Callable[[], Embedder]) -> None:
        """The runtime hands over its (lazily loaded) MiniLM embedder."""
        self._embedder = factory

    def _embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
        if self._embedder is None:  # used outside a runtime: the shipped embedder
            from edgeprompt.embed import Embedder

            embedder = Embedder.load()
            self._embedder = lambda: embedder
        return self._embedder().embed_batch(texts)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(_PIECE.findall(m.content)) + 3 for m in messages)

    def stream(self, request: Request) -> Iterator[Chunk]:
        from edgeprompt.rag import answerable, extract
        from edgeprompt.rag.grounding import asks_about_own_documents
        from edgeprompt.rag.prompting import NO_DOCUMENTS_TEXT, NO_MODEL_TEXT, fixed_answer
        from edgeprompt.rag.rewrite import rewrite

        if request.question:  # from the pipeline: the question as retrieval read it
            question = request.query or request.question
        else:
            last = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=None)
            # a follow-up is read with the question before it, as retrieval read it
            question = rewrite(request.messages[last].content, request.messages[:last]) if last is not None else ""
        if request.documents:
            text = (answerable.answer if self.judge else extract.answer)(question, request.documents, self._embed)
        else:  # a question about the user's things needs documents; any other needs a generative model
            text = NO_DOCUMENTS_TEXT if asks_about_own_documents(question) else NO_MODEL_TEXT
        yield from fixed_answer(text, self.count_tokens(request.messages), request)

    def close(self) -> None:
        return None
