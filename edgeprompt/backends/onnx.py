"""Language models through onnxruntime-genai: the default backend off Apple silicon.

A folder made by onnxruntime-genai's model builder (genai_config.json, model.onnx, tokenizer) runs
here. The prompt is templated and tokenised by `ChatFormat` (the model's own chat template), then the
generator's own loop runs with nothing in it but what each token needs: sampling options are set once,
text comes from ORT's streaming detokenizer, stop strings and cancellation are checked between tokens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import Chunk, Message, Request, StatsClock, StopMatcher
from edgeprompt.backends.chat import ChatFormat
from edgeprompt.backends.onnx_prefix import GeneratorPool, Live, Reuse, kv_bytes_per_position
from edgeprompt.errors import ModelLoadError, UsageError

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import ModelCard

# Per-token log-probabilities cost one `get_logits` copy plus a log-softmax (~25 µs with a 1.5k vocabulary,
# ~0.2 ms with 150k). Measured on the 6 MB demo model that is 14% of a 0.18 ms step, so by default they
# are computed only for models whose weights make a step long enough for that to be noise (< 2%).
LOGPROBS_MIN_WEIGHT_BYTES = 50_000_000


def weight_bytes(folder: Path) -> int:
    """Bytes of ONNX weights in the folder (graph plus external data)."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and ".onnx" in p.name)


def _logprob_entropy(logits: Any, token: int) -> tuple[float, float]:
    """log p(token) and the entropy (nats) of softmax(logits), in one pass over the vocabulary."""
    import numpy as np

    row = logits.reshape(-1)
    z = row - row.max()
    e = np.exp(z)
    total = float(e.sum())
    lse = math.log(total)
    # an elementwise sum, not `@`: a BLAS dot wakes OpenBLAS threads that then compete with ORT's own
    return float(z[token]) - lse, lse - float((e * np.where(e > 0, z, 0.0)).sum()) / total  # 0 log 0 = 0


class OnnxBackend:
    name = "onnx"

    def __init__(self, model_id: str, folder: Path, model: Any, config: dict[str, Any], logprobs: bool) -> None:
        import onnxruntime_genai as og

        self.model_id = model_id
        self.folder = folder
        self.model = model
        self.tokenizer = og.Tokenizer(model)
        self.chat = ChatFormat(folder)
        m = config.get("model", {})
        self.context_length = int(m.get("context_length") or 2048)
        self.vocab_size = int(m.get("vocab_size") or self.chat.tokenizer.get_vocab_size())
        eos = m.get("eos_token_id")
        self.eos = self.chat.eos_ids(folder) | set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.logprobs = logprobs
        self.bytes_per_position = kv_bytes_per_position(m.get("decoder", {}))
        self.generators: GeneratorPool | None = None  # off until `reuse_prefixes` (the runtime turns it on)

    @classmethod
    def load(cls, card: ModelCard, threads: int = 0, logprobs: bool | None = None) -> OnnxBackend:
        from edgeprompt.catalog.files import check_onnx

        folder = card.path_for("onnx")
        if folder is None:
            raise ModelLoadError(
                f"model '{card.id}' has no onnx folder; try `edgeprompt models convert {card.id} --to onnx`"
            )
        config = check_onnx(folder)
        try:
            import onnxruntime_genai as og
        except ImportError as e:
            raise ModelLoadError(f"onnxruntime-genai is not installed ({e})") from e
        og_config = og.Config(str(folder))
        if threads > 0:
            og_config.overlay(
                json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}})
            )
        try:
            model = og.Model(og_config)
        except Exception as e:  # ORT raises RuntimeError/OrtException with a long message
            raise ModelLoadError(f"{folder}: {str(e).splitlines()[0][:200]}") from e
        if logprobs is None:
            logprobs = weight_bytes(folder) >= LOGPROBS_MIN_WEIGHT_BYTES
        return cls(card.id, folder, model, config, logprobs)

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        return self.chat.encode(messages)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.chat.encode(messages))

    def reuse_prefixes(self, budget_bytes: int, size: int = 4) -> None:
        """Keep up to `size` live generators (KV reserved within `budget_bytes`) between requests and rewind
        them to the shared token prefix, so a turn prefills only its new tokens; 0 turns reuse off."""
        self.generators = (
            GeneratorPool(self.model, self.context_length, self.bytes_per_position, budget_bytes, size)
            if budget_bytes > 0
            else None
        )

    def _options(self, request: Request) -> dict[str, Any]:
        p = request.params
        options: dict[str, Any] = {"do_sample": p.temperature > 0}
        if p.temperature > 0:
            # top_k defaults to 50 in genai_config; the vocabulary size means "top-p only", as the params say
            options.update(temperature=p.temperature, top_p=p.top_p, top_k=self.vocab_size)
            if p.seed is not None:
                options["random_seed"] = p.seed
        return options

    def _generator(self, ids: list[int], request: Request) -> tuple[Live, int, Reuse, bool]:
        """The generator for this prompt (its prompt appended), the tokens to generate, what was reused,
        and whether it goes back to the pool afterwards."""
        import onnxruntime_genai as og

        p = request.params
        room = self.context_length - len(ids)
        if room < 1:
            raise UsageError(f"the prompt has {len(ids)} tokens; the model's context is {self.context_length}")
        max_new = max(1, min(p.max_tokens, room))
        options = self._options(request)
        pool, why = self.generators, "prefix reuse is off"
        if pool is not None and p.min_tokens > 0:  # min_length counts from the sequence start: a rewound one differs
            pool, why = None, "min_tokens set (min_length is absolute)"
        elif pool is not None and "random_seed" in options:  # a reused generator would continue its random stream
            pool, why = None, "seeded sampling (a reused generator's draws would differ)"
        if pool is not None:
            live, reuse = pool.take(ids, max_new, options)
            return live, max_new, reuse, True
        if p.min_tokens > 0:
            options["min_length"] = len(ids) + min(p.min_tokens, max_new)
        params = og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(ids) + max_new, **options)
        gen = og.Generator(self.model, params)
        gen.append_tokens(ids)
        return Live(gen, (), len(ids) + max_new), max_new, Reuse(0, len(ids), why), False

    def stream(self, request: Request) -> Iterator[Chunk]:
        clock = StatsClock()
        ids = self.prompt_ids(request.messages)
        live, left, reuse, keep = self._generator(ids, request)
        gen = live.generator
        decoder = self.tokenizer.create_stream()
        stop = StopMatcher(request.params.stop) if request.params.stop else None
        eos = self.eos
        logits = gen.get_logits() if self.logprobs else None  # the distribution of the next token
        finish = "length"
        # the loop runs once per token: bound methods in locals keep its Python cost near the raw loop's
        is_done, step, next_tokens, decode = gen.is_done, gen.generate_next_token, gen.get_next_tokens, decoder.decode
        cancelled = request.cancel.is_set if request.cancel is not None else None
        tick = clock.token
        while left and not is_done():  # a pooled generator's max_length is its capacity, not this answer's end
            if cancelled is not None and cancelled():
                finish = "cancelled"
                break
            left -= 1
            step()
            token = int(next_tokens()[0])
            if token in eos:
                finish = "stop"
                break
            tick()
            text = decode(token)
            lp = ent = None
            if logits is not None:
                lp, ent = _logprob_entropy(logits, token)
                logits = None if gen.is_done() else gen.get_logits()
            if stop is not None:
                text = stop.feed(text)
                if stop.stopped:
                    yield Chunk(text, token, lp, ent)
                    finish = "stop"
                    break
            yield Chunk(text, token, lp, ent)
        if keep and self.generators is not None:
            self.generators.give_back(live)  # only after a clean end: an exception above drops it
        tail = stop.flush() if stop is not None else ""
        if tail:
            yield Chunk(tail)
        stats = clock.stats(len(ids), reuse.reused)
        yield Chunk("", finish_reason=finish, stats=replace(stats, prefix_note=reuse.note))

    def close(self) -> None:
        self.generators = None
        self.model = None
