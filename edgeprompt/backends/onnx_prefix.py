"""Prefix reuse for onnxruntime-genai: live generators kept between turns, rewound to the shared prefix.

A generator holds the KV cache of every token it has seen. Turn N of a chat starts with the same tokens
as turn N-1 (system prompt, documents, history), so instead of a new generator that prefills all of them,
`GeneratorPool.take` picks the live generator sharing the longest token prefix with the new prompt,
rewinds it there (`Generator.rewind_to`) and appends only the rest. A changed system prompt, document or
model shows up as a shorter shared prefix; nothing else has to invalidate. Generators are kept in LRU
order, bounded in count and by the KV memory their buffers reserve (capacity x bytes per position).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgeprompt.backends.base import common_prefix

MIN_REUSE = 16  # a shorter shared prefix saves less than it costs to give up that generator's own prefix
GROWTH = 1024  # spare positions a new generator reserves so the next turns of its chat still fit
KV_ITEMSIZE = 4  # the builder's CPU models keep the KV cache in fp32 (an over-estimate for fp16 ones)


@dataclass(frozen=True)
class Reuse:
    """How a prompt got its KV state: `reused` tokens came from a live generator, `new` were prefilled;
    `note` says why nothing (or less) was reused, empty when the best live prefix was used."""

    reused: int
    new: int
    note: str = ""


def kv_bytes_per_position(decoder: dict[str, Any]) -> int:
    """KV bytes one cached position takes, from genai_config.json's `model.decoder` section."""
    layers = int(decoder.get("num_hidden_layers", 0))
    heads = int(decoder.get("num_attention_heads", 1))
    kv_heads = int(decoder.get("num_key_value_heads", heads))
    head = int(decoder.get("head_size") or int(decoder.get("hidden_size", 0)) // max(heads, 1))
    return 2 * layers * kv_heads * head * KV_ITEMSIZE


@dataclass
class Live:
    """A generator the pool handed out or keeps: `generator` is onnxruntime-genai's."""

    generator: Any
    key: tuple[Any, ...]  # the search options it was made with, less the lengths: reuse needs the same
    capacity: int  # its max_length: the KV buffer is reserved for this many positions


class GeneratorPool:
    """Live onnxruntime-genai generators of one model. `take` hands one out (out of the pool while a request
    uses it), `give_back` returns it after the answer, so concurrent requests never share a generator."""

    def __init__(
        self, model: Any, context_length: int, bytes_per_position: int, budget_bytes: int, size: int = 4
    ) -> None:
        self.model = model
        self.context_length = context_length
        self.bytes_per_position = max(1, bytes_per_position)
        self.budget_bytes = budget_bytes
        self.size = size
        self.unsupported = ""  # set once when this model's generators cannot rewind: every turn is cold then
        self._live: list[Live] = []  # oldest first
        self._lock = threading.Lock()

    @property
    def reserved_bytes(self) -> int:
        return sum(e.capacity for e in self._live) * self.bytes_per_position

    def __len__(self) -> int:
        return len(self._live)

    def clear(self) -> None:
        with self._lock:
            self._live.clear()

    def _capacity(self, needed: int) -> int:
        return min(self.context_length, needed + max(GROWTH, needed))

    def _nearest(self, ids: list[int], needed: int, key: tuple[Any, ...]) -> tuple[Live | None, int, str]:
        best, best_n = None, 0
        note = self.unsupported or "no live generator shares the prompt's prefix"
        for entry in reversed(self._live):  # newest first: ties go to the most recent
            if entry.key != key:
                continue
            seq = entry.generator.get_sequence(0)
            # the sequence's last token may be sampled but not yet run (no KV), and the prompt's own last
            # token must run to give the next-token logits
            n = common_prefix(seq[: len(seq) - 1], ids[: len(ids) - 1])
            if n < MIN_REUSE or n <= best_n:
                continue
            if needed > entry.capacity:
                note = f"the generator sharing {n} tokens holds {entry.capacity} positions; this turn needs {needed}"
                continue
            best, best_n = entry, n
        return best, best_n, note

    def take(self, ids: Sequence[int], max_new: int, options: dict[str, Any]) -> tuple[Live, Reuse]:
        """A generator with `ids` appended, ready for its first `generate_next_token`, and what was reused.
        `options` are the request's search options less max_length/min_length (the pool sets the length)."""
        import onnxruntime_genai as og

        ids = list(ids)
        needed = len(ids) + max_new
        key = tuple(sorted(options.items()))
        with self._lock:
            best, n, note = self._nearest(ids, needed, key) if not self.unsupported else (None, 0, self.unsupported)
            if best is not None:
                self._live.remove(best)
        if best is not None:
            try:
                best.generator.rewind_to(n)
            except Exception as e:  # ORT raises RuntimeError where a model's KV cache cannot rewind
                self.unsupported = note = f"rewind unsupported for this model: {str(e).splitlines()[0][:160]}"
            else:
                best.generator.append_tokens(ids[n:])
                return best, Reuse(n, len(ids) - n)
        capacity = self._capacity(needed)
        params = og.GeneratorParams(self.model)
        params.set_search_options(max_length=capacity, **options)
        live = Live(og.Generator(self.model, params), key, capacity)
        live.generator.append_tokens(ids)
        return live, Reuse(0, len(ids), note)

    def give_back(self, live: Live) -> None:
        """Keep `live` as the newest, dropping the least recently used beyond the count and memory bounds."""
        with self._lock:
            self._live.append(live)
            while self._live and (len(self._live) > self.size or self.reserved_bytes > self.budget_bytes):
                self._live.pop(0)
