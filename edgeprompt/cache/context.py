"""The context level: embeddings are computed once per distinct text and model, then reused.

The semantic lookup, the semantic store and retrieval all embed the same question within one request;
seeding and re-asked questions embed it again across requests. `EmbeddingMemo` keeps recent vectors in
an LRU keyed by (embedder hash, SHA-256 of the text). Chunk vectors are reused the same way on disk by the
indexer (`DocumentStore.vectors_for`, keyed by chunk content hash), so re-indexing an unchanged chunk
never embeds it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from edgeprompt.canonical import sha256_hex

if TYPE_CHECKING:
    import numpy as np


class EmbeddingMemo:
    def __init__(self, embedder: Any, capacity: int = 4096) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return f"{getattr(self.embedder, 'model_hash', '')}:{sha256_hex(text)}"

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        keys = [self._key(t) for t in texts]
        out: list[np.ndarray | None] = []
        with self._lock:
            for k in keys:
                v = self._lru.get(k)
                if v is not None:
                    self._lru.move_to_end(k)
                out.append(v)
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            fresh = self.embedder.embed_batch([texts[i] for i in todo])
            with self._lock:
                for j, i in enumerate(todo):
                    out[i] = fresh[j]
                    self._lru[keys[i]] = fresh[j]
                while len(self._lru) > self.capacity:
                    self._lru.popitem(last=False)
        with self._lock:
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
        return np.stack(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)  # type: ignore[arg-type]

    @property
    def bytes(self) -> int:
        return sum(v.nbytes for v in self._lru.values())

    def clear(self) -> int:
        with self._lock:
            n = len(self._lru)
            self._lru.clear()
            return n
