"""Model execution behind one seam, `Backend.stream(request)`; `load_backend` picks the implementation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgeprompt.backends.base import Backend, Chunk, GenerationParams, GenerationStats, Message, Request
from edgeprompt.errors import BackendUnavailableError

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import ModelCard

__all__ = ["Backend", "Chunk", "GenerationParams", "GenerationStats", "Message", "Request", "load_backend"]


def load_backend(card: ModelCard, kind: str, threads: int = 0) -> Backend:
    """Instantiate the backend `kind` (already resolved for this machine) for `card`."""
    if kind == "echo":
        from edgeprompt.backends.echo import EchoBackend

        return EchoBackend(card.id, card.context_length)
    if kind == "mlx":
        from edgeprompt.backends.mlx import MlxBackend

        return MlxBackend.load(card, threads=threads)
    if kind == "onnx":
        from edgeprompt.backends.onnx import OnnxBackend

        return OnnxBackend.load(card, threads=threads)
    if kind == "extractive":
        from edgeprompt.backends.extractive import ExtractiveBackend

        return ExtractiveBackend(card.id, card.context_length)
    raise BackendUnavailableError(kind)
