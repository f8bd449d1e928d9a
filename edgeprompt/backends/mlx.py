"""Language models through mlx-lm: the default backend on Apple silicon (it also runs, slowly, on Linux CPUs).

Any mlx-lm folder (bf16/fp16/fp32, 4- or 8-bit) or plain Hugging Face folder loads. The backend templates
and tokenises the prompt itself (`ChatFormat`) and hands the ids to mlx-lm's own `stream_generate`, so
a prefix (KV) cache can later be slotted in through `prefix_cache` without touching this loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edgeprompt.backends.base import Chunk, Message, Request, StatsClock, StopMatcher
from edgeprompt.backends.chat import ChatFormat
from edgeprompt.errors import ModelLoadError, UsageError

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import ModelCard


class PrefixReuse(Protocol):
    """The seam for a prefix (KV) cache (the cache area fills it in).

    `lookup(ids)` returns an mlx-lm prompt cache that already holds the first `n` of `ids` (or None, 0);
    generation then prefills only `ids[n:]` into it. `release(ids, cache)` gets it back after the answer
    (mlx-lm mutates the cache in place: keep it, trim it back, or drop it).
    """

    def lookup(self, ids: Sequence[int]) -> tuple[Any | None, int]: ...

    def release(self, ids: Sequence[int], cache: Any) -> None: ...


ENTROPY_EVERY = 4  # the answer's mean entropy is estimated on every 4th token


def _logprob(logprobs: Any, token: int, with_entropy: bool = False) -> tuple[float, float | None]:
    """log p(token) and, when asked, the entropy of the distribution, from the response's log-probabilities
    (already evaluated with its token). Read through numpy, which adds no MLX op: `logprobs[token].item()`
    would queue behind the next step's forward pass (mlx-lm launches it before yielding) and cost 8% of the
    demo's decode rate. A full pass over the row for the entropy cost 10-15% of MLX's CPU decode rate when
    done on every token, so it is done on every ENTROPY_EVERY-th token: the mean is an estimate."""
    import mlx.core as mx
    import numpy as np

    if logprobs.dtype not in (mx.float32, mx.float16):
        logprobs = logprobs.astype(mx.float32)  # numpy has no bfloat16
    row = np.asarray(logprobs).reshape(-1)
    entropy = None
    if with_entropy:
        live = row[np.isfinite(row)]  # tokens masked to -inf (e.g. end-of-turn under min_tokens) carry p = 0
        entropy = float(-(np.exp(live) * live).sum())
    return float(row[token]), entropy


def min_tokens_processors(eos: set[int], min_tokens: int) -> list[Any] | None:
    """mlx-lm logits processors that keep the end-of-turn tokens out until `min_tokens` were generated."""
    if min_tokens <= 0 or not eos:
        return None
    import mlx.core as mx

    banned = mx.array(sorted(eos))
    seen = [0]

    def suppress_eos(tokens: Any, logits: Any) -> Any:
        seen[0] += 1
        if seen[0] > min_tokens:
            return logits
        logits[:, banned] = -float("inf")
        return logits

    return [suppress_eos]


class MlxBackend:
    name = "mlx"

    def __init__(self, model_id: str, folder: Path, model: Any, tokenizer: Any, context_length: int) -> None:
        self.model_id = model_id
        self.folder = folder
        self.model = model
        self.tokenizer = tokenizer
        self.chat = ChatFormat(folder)
        self.context_length = context_length
        tokenizer.eos_token_ids = set(tokenizer.eos_token_ids) | self.chat.eos_ids(folder)
        self.prefix_cache: PrefixReuse | None = None

    @classmethod
    def load(cls, card: ModelCard, threads: int = 0) -> MlxBackend:
        """`threads` is accepted for the common signature; MLX picks its own (its CPU kernels use one)."""
        from edgeprompt.catalog.files import check_safetensors

        folder = card.path_for("mlx") or card.path_for("hf")
        if folder is None:
            raise ModelLoadError(
                f"model '{card.id}' has no mlx folder; try `edgeprompt models convert {card.id} --to mlx`"
            )
        if not folder.is_dir():
            raise ModelLoadError(f"no such folder: {folder}")
        cfg = check_safetensors(folder)
        try:
            from mlx_lm import load
        except ImportError as e:
            raise ModelLoadError(f"mlx-lm is not available on this machine ({e})") from e
        # a LoRA adapter (federated fine-tuning) applies to the card's mlx weights, never to a merged hf folder
        adapter = card.path_for("adapter") if folder == card.path_for("mlx") else None
        try:
            # load() is typed as returning 2 or 3 items (the config only with return_config=True)
            loaded = load(str(folder), adapter_path=str(adapter) if adapter else None)
            model, tokenizer = loaded[0], loaded[1]
        except Exception as e:  # mlx-lm raises ValueError/KeyError/OSError for bad folders
            raise ModelLoadError(f"{folder}: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from e
        ctx = int(cfg.get("max_position_embeddings") or card.context_length or 2048)
        return cls(card.id, folder, model, tokenizer, min(ctx, card.context_length or ctx))

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        return self.chat.encode(messages)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.chat.encode(messages))

    def _sampler(self, request: Request) -> Any:
        import mlx.core as mx
        from mlx_lm.sample_utils import make_sampler

        p = request.params
        if p.temperature > 0 and p.seed is not None:
            mx.random.seed(p.seed)
        return make_sampler(temp=p.temperature, top_p=p.top_p if p.top_p < 1.0 else 0.0)

    def stream(self, request: Request) -> Iterator[Chunk]:
        import mlx.core as mx
        from mlx_lm.generate import stream_generate

        clock = StatsClock()
        ids = self.prompt_ids(request.messages)
        room = self.context_length - len(ids)
        if room < 1:
            raise UsageError(f"the prompt has {len(ids)} tokens; the model's context is {self.context_length}")
        max_new = max(1, min(request.params.max_tokens, room))
        cache, reused = self.prefix_cache.lookup(ids) if self.prefix_cache is not None else (None, 0)
        stop = StopMatcher(request.params.stop) if request.params.stop else None
        finish = "length"
        responses = stream_generate(
            self.model,
            self.tokenizer,
            mx.array(ids[reused:]),
            max_tokens=max_new,
            sampler=self._sampler(request),
            prompt_cache=cache,
            logits_processors=min_tokens_processors(self.tokenizer.eos_token_ids, request.params.min_tokens),
        )
        try:
            for r in responses:
                if request.cancelled:
                    finish = "cancelled"
                    break
                lp = ent = None
                if r.finish_reason == "stop":  # the end-of-turn token: not part of the answer
                    finish = "stop"
                else:
                    lp, ent = _logprob(r.logprobs, r.token, clock.tokens % ENTROPY_EVERY == 0)
                    clock.token()
                text = r.text
                if stop is not None:
                    text = stop.feed(text)
                    if stop.stopped:
                        yield Chunk(text, r.token, lp, ent)
                        finish = "stop"
                        break
                yield Chunk(text, None if lp is None else r.token, lp, ent)
        finally:
            responses.close()
            if self.prefix_cache is not None and cache is not None:
                self.prefix_cache.release(ids, cache)
        tail = stop.flush() if stop is not None else ""
        if tail:
            yield Chunk(tail)
        yield Chunk("", finish_reason=finish, stats=clock.stats(len(ids), reused))

    def close(self) -> None:
        self.model = None
