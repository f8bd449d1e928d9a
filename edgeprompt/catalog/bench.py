"""`edgeprompt bench`: how fast a model decodes here, against this machine's limit and the raw runtime.

One run measures (1) memory-read bandwidth with numpy and the model's bytes read per token, hence the
bandwidth-bound decode limit `limit_tps`; (2) the raw runtime's own loop (onnxruntime-genai's generator or
mlx-lm's `stream_generate`) on the exact prompt the pipeline sends; (3) the same request through the
full pipeline (`edgeprompt.pipeline.run`), timed where its caller receives the tokens; (4) peak RSS.
Runs alternate raw/pipeline after a warm-up, and each figure is the median.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import GenerationParams, Request

if TYPE_CHECKING:
    from edgeprompt.app import Runtime

DEFAULT_QUESTION = "Tell me a story."


# A decode window shorter than ~0.1 s is mostly scheduler noise (a shared 2-core VM moves by tens of
# percent between runs): fast models generate more tokens per run, slow ones MIN_TOKENS.
MIN_TOKENS = 128
MAX_AUTO_TOKENS = 1024
WINDOW_S = 0.25


@dataclass(frozen=True)
class BenchOptions:
    """What one `edgeprompt bench` run measures; flags from other areas add fields here."""

    model: str | None = None
    backend: str | None = None  # mlx | onnx; None: this machine's default for the card
    question: str = DEFAULT_QUESTION
    max_tokens: int | None = None  # None: at least MIN_TOKENS and WINDOW_S of decode at the warm-up rate
    runs: int = 9
    bandwidth_mb: int = 256


@dataclass(frozen=True)
class Timing:
    """One generation: prompt length, tokens out, time to first token, decode rate (first to last token)."""

    prompt_tokens: int
    tokens: int
    ttft_s: float
    tps: float

    @staticmethod
    def of(prompt_tokens: int, t0: float, stamps: list[float]) -> Timing:
        ttft = (stamps[0] - t0) if stamps else 0.0
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        return Timing(prompt_tokens, len(stamps), ttft, (len(stamps) - 1) / span if span > 0 else 0.0)


# -- the machine's limit --------------------------------------------------------------------------------
def memory_bandwidth_gbs(threads: int, size_mb: int = 256, repeats: int = 5) -> float:
    """Best read bandwidth of numpy sums over an array well beyond the caches, split across `threads`."""
    import numpy as np

    a = np.ones(size_mb * (1 << 20) // 4, dtype=np.float32)
    parts = np.array_split(a, max(1, threads))
    best = 0.0
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:  # numpy releases the GIL in reductions
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            list(pool.map(np.sum, parts))
            best = max(best, a.nbytes / (time.perf_counter() - t0) / 1e9)
    return best


def onnx_bytes_per_token(folder: Path) -> int:
    """Initializer bytes of the decoder, less tables only gathered from (an untied embedding: one row a
    token). Tied or shared embeddings are read in full as the output head, so they count."""
    import onnx
    from onnx import helper

    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    graph = model.graph
    gathered = {n.input[0] for n in graph.node if n.op_type in ("Gather", "GatherBlockQuantized")}
    used_elsewhere = {i for n in graph.node if n.op_type not in ("Gather", "GatherBlockQuantized") for i in n.input}
    total = 0
    for t in graph.initializer:
        if t.name in gathered and t.name not in used_elsewhere:
            continue
        n = 1
        for d in t.dims:
            n *= d
        total += n * helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    return total


def mlx_bytes_per_token(folder: Path) -> int:
    """All safetensors weights: each decode step reads every matrix (tied embeddings once, as the head)."""
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def kv_bytes_per_token(config: dict[str, Any], positions: int, itemsize: int) -> int:
    """KV cache read per step at `positions` cached tokens."""
    layers = int(config.get("num_hidden_layers", 0))
    heads = int(config.get("num_attention_heads", 1))
    kv = int(config.get("num_key_value_heads", heads))
    head_dim = int(config.get("head_dim") or config.get("head_size") or int(config.get("hidden_size", 0)) // heads)
    return 2 * layers * kv * head_dim * positions * itemsize


# -- the raw runtimes ----------------------------------------------------------------------------------
def raw_onnx(backend: Any, ids: list[int], max_tokens: int) -> Timing:
    """onnxruntime-genai's generator loop, greedy, with streaming detokenisation: what its examples do.
    Both loops generate exactly `max_tokens` (end-of-turn suppressed), so short answers do not shrink the
    measured window."""
    import onnxruntime_genai as og

    t0 = time.perf_counter()
    params = og.GeneratorParams(backend.model)
    params.set_search_options(max_length=len(ids) + max_tokens, min_length=len(ids) + max_tokens, do_sample=False)
    gen = og.Generator(backend.model, params)
    gen.append_tokens(ids)
    decoder = backend.tokenizer.create_stream()
    stamps: list[float] = []
    while not gen.is_done():
        gen.generate_next_token()
        token = gen.get_next_tokens()[0]
        if token in backend.eos:
            break
        decoder.decode(token)
        stamps.append(time.perf_counter())
    return Timing.of(len(ids), t0, stamps)


def raw_mlx(backend: Any, ids: list[int], max_tokens: int) -> Timing:
    """mlx-lm's `stream_generate`, greedy; the end-of-turn response is not a token of the answer."""
    import mlx.core as mx
    from mlx_lm.generate import stream_generate
    from mlx_lm.sample_utils import make_sampler

    from edgeprompt.backends.mlx import min_tokens_processors

    t0 = time.perf_counter()
    stamps: list[float] = []
    for r in stream_generate(
        backend.model,
        backend.tokenizer,
        mx.array(ids),
        max_tokens=max_tokens,
        sampler=make_sampler(temp=0.0),
        logits_processors=min_tokens_processors(backend.tokenizer.eos_token_ids, max_tokens),
    ):
        if r.finish_reason != "stop":
            stamps.append(time.perf_counter())
    return Timing.of(len(ids), t0, stamps)


RAW: dict[str, Callable[[Any, list[int], int], Timing]] = {"onnx": raw_onnx, "mlx": raw_mlx}


# -- the pipeline ----------------------------------------------------------------------------------------
def _pipeline_request(max_tokens: int, opts: BenchOptions, card_id: str, kind: str) -> Any:
    from edgeprompt.pipeline import AskRequest

    return AskRequest(
        opts.question,
        model=card_id,
        backend=kind,
        save=False,
        use_documents=False,
        params=GenerationParams(max_tokens=max_tokens, temperature=0.0, min_tokens=max_tokens),
    )


def pipeline_once(rt: Runtime, request: Any) -> Timing:
    """The request through `pipeline.run`. The decode rate is the backend's clock inside the pipeline: it
    ticks when each token is produced, after the pipeline has handled the one before (the generator is
    suspended meanwhile), so all per-token pipeline work is in it, and output the firewall holds back
    and releases in bursts does not skew it. TTFT is what the caller sees: its first shown token."""
    from edgeprompt.pipeline import Done, Token, run

    t0 = time.perf_counter()
    first = 0.0
    result = None
    for ev in run(request, rt):
        if isinstance(ev, Token) and not first:
            first = time.perf_counter()
        elif isinstance(ev, Done):
            result = ev.result
    if result is None:
        raise RuntimeError("the pipeline ended without a result")
    return Timing(
        result.usage["prompt_tokens"],
        result.usage["completion_tokens"],
        (first or t0) - t0,
        float(result.timings["tokens_per_s"]),
    )


def captured_request(rt: Runtime, backend: Any, request: Any) -> tuple[Request, Timing]:
    """Run the pipeline once (the warm-up) and keep the exact backend Request it made, for the raw loop."""
    seen: list[Request] = []
    original: Callable[[Request], Iterator[Any]] = backend.stream

    def spy(req: Request) -> Iterator[Any]:
        seen.append(req)
        return original(req)

    backend.stream = spy
    try:
        timing = pipeline_once(rt, request)
    finally:
        del backend.stream  # back to the class's method: the timed runs go through nothing extra
    if not seen:
        raise RuntimeError("the pipeline answered without calling the model (cached or abstained)")
    return seen[0], timing


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _prompt_tps(timings: list[Timing]) -> float:
    return round(_median([t.prompt_tokens / t.ttft_s for t in timings if t.ttft_s > 0]), 1)


def without_answer_cache(rt: Runtime) -> None:
    """A benchmark repeats one question, which the answer cache would serve after the first time; its
    lookup and store are per request, not per token, so turning it off leaves the decode rate honest."""
    values = {k: dict(v) for k, v in rt.settings.values.items()}
    values.setdefault("cache", {})["enabled"] = False
    rt.settings = replace(rt.settings, values=values)


def run_bench(rt: Runtime, opts: BenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from edgeprompt.backends.loader import physical_threads
    from edgeprompt.backends.mlx import MlxBackend
    from edgeprompt.backends.onnx import OnnxBackend

    without_answer_cache(rt)
    card = rt.card(opts.model)
    kind = rt.backend_kind(card, opts.backend)
    if kind not in RAW:
        from edgeprompt.errors import UsageError

        raise UsageError(f"bench measures the mlx and onnx backends; model '{card.id}' runs on {kind}")
    threads = physical_threads(int(rt.settings.get("model.threads")))
    backend = rt.backend(card.id, kind)
    assert isinstance(backend, MlxBackend | OnnxBackend)  # the two kinds RAW has a loop for
    request = _pipeline_request(opts.max_tokens or MIN_TOKENS, opts, card.id, kind)
    if progress:
        progress(f"bench: {card.id} on {kind}, {threads} threads; warming up")
    sent, _ = captured_request(rt, backend, request)
    ids = backend.prompt_ids(sent.messages)
    raw_fn = RAW[kind]
    warm = raw_fn(backend, ids, sent.params.max_tokens)
    if opts.max_tokens is None:
        room = backend.context_length - len(ids)
        wanted = min(MAX_AUTO_TOKENS, max(MIN_TOKENS, int(warm.tps * WINDOW_S)), room)
        if wanted != sent.params.max_tokens:
            request = _pipeline_request(wanted, opts, card.id, kind)
            sent, _ = captured_request(rt, backend, request)
            raw_fn(backend, ids, sent.params.max_tokens)
    raw, piped = [], []
    for i in range(opts.runs):
        # adjacent pairs, in alternating order, so the machine's drift (a shared VM's speed moves by tens of
        # percent between seconds) falls on both sides alike; the ratio is the median of the pairs' ratios
        if i % 2:
            piped.append(pipeline_once(rt, request))
            raw.append(raw_fn(backend, ids, sent.params.max_tokens))
        else:
            raw.append(raw_fn(backend, ids, sent.params.max_tokens))
            piped.append(pipeline_once(rt, request))
        if progress:
            progress(f"  run {i + 1}/{opts.runs}: raw {raw[-1].tps:.1f} tok/s, pipeline {piped[-1].tps:.1f} tok/s")
    bandwidth = memory_bandwidth_gbs(threads, opts.bandwidth_mb)
    folder = backend.folder
    if kind == "onnx":
        import json

        cfg = json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]
        weights, itemsize = onnx_bytes_per_token(folder), 4
    else:
        import json

        cfg = json.loads((folder / "config.json").read_text())
        weights, itemsize = mlx_bytes_per_token(folder), 4 if cfg.get("torch_dtype") == "float32" else 2
    tokens = int(_median([t.tokens for t in raw]))
    kv = kv_bytes_per_token(cfg, len(ids) + tokens // 2, itemsize)
    raw_tps, pipe_tps = _median([t.tps for t in raw]), _median([t.tps for t in piped])
    return {
        "model": card.id,
        "backend": kind,
        "threads": threads,
        "runs": opts.runs,
        "prompt_tokens": len(ids),
        "completion_tokens": tokens,
        "bandwidth_gbs": round(bandwidth, 2),
        "weight_bytes_per_token": weights,
        "kv_bytes_per_token": kv,
        "limit_tps": round(bandwidth * 1e9 / (weights + kv), 1),
        "generation_tps_raw": round(raw_tps, 1),
        "prompt_tps_raw": _prompt_tps(raw),
        "generation_tps_pipeline": round(pipe_tps, 1),
        "prompt_tps_pipeline": _prompt_tps(piped),
        "ttft_ms_raw": round(_median([t.ttft_s for t in raw]) * 1000, 2),
        "ttft_ms_pipeline": round(_median([t.ttft_s for t in piped]) * 1000, 2),
        "ratio": round(_median([p.tps / r.tps for r, p in zip(raw, piped, strict=True) if r.tps]), 3),
        "logprobs": bool(getattr(backend, "logprobs", kind == "mlx")),
        "answer_cache": "off",
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
