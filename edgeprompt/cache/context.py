"""The context level: embeddings are computed once per distinct text and model, then reused.

The semantic lookup, the semantic store and retrieval all embed the same question within one request;
seeding and re-asked questions embed it again across requests. `EmbeddingMemo` keeps recent vectors in
an LRU keyed by (embedder hash, SHA-256 of the text). Chunk vectors are reused the same way on disk by the
indexer (`DocumentStore.vectors_for`, keyed by chunk content hash), so re-indexing an unchanged chunk
never embeds it again.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from edgeprompt.canonical import sha256_hex

if TYPE_CHECKING:
    import numpy as np


class EmbeddingMemo:
    """The embedder behind an LRU keyed by model and text, counting its hits and misses (the context level)."""

    def __init__(self, embedder: Any, capacity: int = 4096) -> None:
        from edgeprompt.embed import RecentVectors

        self.embedder = embedder
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._vectors = RecentVectors(capacity)
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return f"{getattr(self.embedder, 'model_hash', '')}:{sha256_hex(text)}"

    def embed(self, text: str) -> np.ndarray:
        row: np.ndarray = self.embed_batch([text])[0]
        return row

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        vecs, missed = self._vectors.embed([self._key(t) for t in texts], texts, self.embedder.embed_batch)
        with self._lock:
            self.hits += len(texts) - missed
            self.misses += missed
        return vecs.astype(np.float32, copy=False)

    @property
    def bytes(self) -> int:
        return self._vectors.nbytes

    def clear(self) -> int:
        return self._vectors.clear()
