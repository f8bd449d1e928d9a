"""The prefix (KV) level for MLX: reuse the model state of the longest shared token prefix.

In memory, mlx-lm's own `LRUPromptCache` (a token trie with a byte budget, the one `mlx_lm.server` uses)
keeps the KV state of recent prompts: the next turn of a conversation, or another question under the same
system prompt and documents, prefills only the tokens after the shared prefix. mlx-lm mutates a prompt
cache in place while generating, so every lookup gets its own copy (trimmed to the shared prefix), and
the state is trimmed back to the prompt before it is kept again.

On disk, a prefix that two different prompts shared (a "hot" system prompt, with its documents) is saved
with mlx-lm's `save_prompt_cache`, keyed by weights hash, template hash, KV bits and the tokens, so a new
process (each `edgeprompt ask`) starts from it too. A short list of recent prompt heads on disk is what
tells a shared prefix from a one-off.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgeprompt.backends.base import common_prefix
from edgeprompt.canonical import sha256_hex

MIN_REUSE = 16  # shorter shared prefixes are not worth a cache copy
MIN_DISK = 64  # a prefix is saved to disk only if at least this long
RECENT = 16  # prompt heads remembered on disk to spot shared prefixes across processes
HEAD = 8192  # tokens of each prompt head kept in that list


def _tokens_hash(ids: Sequence[int]) -> str:
    return sha256_hex(",".join(map(str, ids)))[:32]


def _compact(cache: list[Any]) -> None:
    """Cut each layer's KV buffers to the tokens they hold. A fetched copy keeps the stored entry's
    oversized, shared buffers; writing the next tokens into those copies them whole at every step
    (measured: 3x slower first token than a state loaded from disk)."""
    import mlx.core as mx

    for layer in cache:
        state = getattr(layer, "state", None)
        if isinstance(state, tuple | list) and len(state) == 2 and hasattr(layer, "offset"):
            layer.state = state
    mx.eval([a for layer in cache for a in getattr(layer, "state", ()) if isinstance(a, mx.array)])


class PrefixCache:
    """Implements the MLX backend's `PrefixCache` seam: `lookup(ids) -> (cache, n)`, `release(ids, cache)`."""

    def __init__(
        self,
        model: Any,
        key: str,
        budget_bytes: int,
        disk_dir: Path | None,
        disk_budget_bytes: int,
        record: Callable[..., None] | None = None,
    ) -> None:
        from mlx_lm.models.cache import LRUPromptCache

        self.model = model
        self.key = key  # weights hash : template hash : kv bits
        self.memory = LRUPromptCache(max_size=64, max_bytes=budget_bytes)
        self.disk_dir = disk_dir
        self.disk_budget = disk_budget_bytes
        self.record = record or (lambda *a, **k: None)
        self.last_reused = 0
        self._lock = threading.Lock()

    # the seam ---------------------------------------------------------------------------------------------
    def lookup(self, ids: Sequence[int]) -> tuple[Any, int]:
        """A prompt cache holding the first n of `ids` (n < len(ids): the last token is always prefilled)."""
        from mlx_lm.models.cache import make_prompt_cache, trim_prompt_cache

        ids = list(ids)
        with self._lock:
            cache, rest = self.memory.fetch_nearest_cache(self.key, ids)
        n = len(ids) - len(rest) if cache is not None else 0
        if cache is not None and n >= len(ids):  # the exact prompt: give back its last token to prefill
            trim_prompt_cache(cache, 1)
            n = len(ids) - 1
        disk = self._from_disk(ids, better_than=n)
        if disk is not None:
            cache, n = disk
        if cache is None or n < MIN_REUSE:
            cache, n = make_prompt_cache(self.model), 0
        else:
            _compact(cache)
        self.last_reused = n
        self.record("prefix", hits=int(n > 0), misses=int(n == 0), tokens_saved=n)
        return cache, n

    def release(self, ids: Sequence[int], cache: Any) -> None:
        """Keep the state of this prompt (trimmed back to it) for the next turn, and spot hot prefixes."""
        from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

        ids = list(ids)
        if not can_trim_prompt_cache(cache) or not cache or cache[0].offset < len(ids):
            return  # cancelled before the prompt was in, or a cache type that cannot be trimmed back
        trim_prompt_cache(cache, cache[0].offset - len(ids))
        if self.disk_dir is not None:
            self._spot_hot_prefix(ids, cache)
        with self._lock:
            self.memory.insert_cache(self.key, ids, cache)

    # disk -------------------------------------------------------------------------------------------------
    def _folder(self) -> Path:
        assert self.disk_dir is not None
        return self.disk_dir / sha256_hex(self.key)[:16]

    def _index(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads((self._folder() / "index.json").read_text()))
        except (OSError, ValueError):
            return []

    def _from_disk(self, ids: list[int], better_than: int) -> tuple[Any, int] | None:
        from mlx_lm.models.cache import load_prompt_cache

        if self.disk_dir is None:
            return None
        best = None
        for e in self._index():
            n = int(e["n"])
            if better_than < n < len(ids) and (best is None or n > best["n"]) and _tokens_hash(ids[:n]) == e["tokens"]:
                best = e
        if best is None:
            return None
        path = self._folder() / best["file"]
        try:
            cache = load_prompt_cache(str(path))
        except Exception:  # a half-written or foreign file: ignore it, it is only a cache
            return None
        path.touch()  # recently used: evicted last
        return cache, int(best["n"])

    def _spot_hot_prefix(self, ids: list[int], cache: Any) -> None:
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        recent_file = folder / "recent.json"
        try:
            recent = list(json.loads(recent_file.read_text()))
        except (OSError, ValueError):
            recent = []
        # shared with a prompt that went another way (not this conversation's own earlier turn): a hot head
        shared = max((n for r in recent if (n := common_prefix(ids, r)) < len(r)), default=0)
        shared = min(shared, len(ids) - 1)
        index = self._index()
        if shared >= MIN_DISK and not any(
            int(e["n"]) >= shared and _tokens_hash(ids[: int(e["n"])]) == e["tokens"] for e in index
        ):
            self._save(ids[:shared], cache, index)
        recent = [*[r for r in recent if r != ids[:HEAD]][-(RECENT - 1) :], ids[:HEAD]]
        recent_file.write_text(json.dumps(recent))

    def _save(self, prefix: list[int], cache: Any, index: list[dict[str, Any]]) -> None:
        import copy

        from mlx_lm.models.cache import save_prompt_cache, trim_prompt_cache

        snapshot = copy.deepcopy(cache)
        trim_prompt_cache(snapshot, snapshot[0].offset - len(prefix))
        th = _tokens_hash(prefix)
        name = f"{th}.safetensors"
        tmp = self._folder() / f".{name}.tmp.safetensors"
        save_prompt_cache(str(tmp), snapshot, {"key": self.key, "n": str(len(prefix)), "tokens": th})
        tmp.replace(self._folder() / name)
        index = [e for e in index if e["tokens"] != th] + [
            {"n": len(prefix), "tokens": th, "file": name, "saved_at": time.time()}
        ]
        (self._folder() / "index.json").write_text(json.dumps(index))
        self._evict(index)

    def _evict(self, index: list[dict[str, Any]]) -> None:
        folder = self._folder()
        files = sorted(
            (folder / e["file"] for e in index if (folder / e["file"]).exists()), key=lambda p: p.stat().st_mtime
        )
        total = sum(p.stat().st_size for p in files)
        while files and total > self.disk_budget:
            victim = files.pop(0)
            total -= victim.stat().st_size
            victim.unlink()
            index = [e for e in index if e["file"] != victim.name]
        (folder / "index.json").write_text(json.dumps(index))

    # housekeeping -----------------------------------------------------------------------------------------
    def disk_bytes(self) -> int:
        if self.disk_dir is None or not self.disk_dir.exists():
            return 0
        return sum(p.stat().st_size for p in self.disk_dir.rglob("*.safetensors"))

    def sizes(self) -> dict[str, int]:
        return {
            "bytes": int(self.memory.nbytes) + self.disk_bytes(),
            "memory_bytes": int(self.memory.nbytes),
            "disk_bytes": self.disk_bytes(),
            "sequences": len(self.memory),
        }

    def clear(self) -> int:
        n = len(self.memory)
        with self._lock:
            self.memory.trim_to(n_sequences=0)
        if self.disk_dir is not None and self.disk_dir.exists():
            for p in self.disk_dir.rglob("*"):
                if p.is_file():
                    p.unlink()
                    n += p.suffix == ".safetensors"
        return n
