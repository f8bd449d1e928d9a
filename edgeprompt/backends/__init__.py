"""Model execution behind one seam, `Backend.stream(request)`; `edgeprompt.backends.loader.load_backend` picks the
implementation."""

from __future__ import annotations

from edgeprompt.backends.base import Backend, Chunk, GenerationParams, GenerationStats, Message, Request

__all__ = ["Backend", "Chunk", "GenerationParams", "GenerationStats", "Message", "Request"]
