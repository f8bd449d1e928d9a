"""`load_backend` picks the implementation of a card's backend and imports only that one (MLX, ONNX Runtime
GenAI and the extractive quoter are heavy, and the extractive one uses the document modules)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from edgeprompt.errors import BackendUnavailableError

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.catalog.cards import ModelCard


def physical_threads(setting: int) -> int:
    """The `model.threads` setting, or every core when it is 0."""
    if setting > 0:
        return setting
    return max(1, os.cpu_count() or 1)


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
