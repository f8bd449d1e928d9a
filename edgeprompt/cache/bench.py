"""Cache benchmarks: prefix (KV) reuse on MLX, and the answer cache's lookups against raw sqlite-vec.

`prefix_bench` (behind `edgeprompt bench --prefix-cache`): time to first token of a request whose first
~1,000 tokens (a long system prompt) were seen before, without reuse, with in-memory reuse, and (MLX)
from a saved prefix file in a fresh cache, in one run, medians over distinct questions; it also checks
that the greedy answer is the same with and without reuse. The onnx backend reuses live generators.
`semantic_bench` (behind `scripts/bench_cache`): lookup latency at N entries, embedding included, next to
the raw sqlite-vec KNN on the same table and the embedding alone.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import GenerationParams, Message, Request
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.cache import Cache
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.embed import Embedder
    from edgeprompt.store.db import Database

QUESTIONS = (
    "What is the main idea of the text above?",
    "Which animals does the text mention?",
    "Summarise the second paragraph in one line.",
    "What happens at the end of the story?",
    "Who is the narrator of this passage?",
    "List three places named in the text.",
    "What is the tone of the writing?",
    "Which word appears most often here?",
)


def _median(xs: Sequence[float]) -> float:
    return round(statistics.median(xs), 2) if xs else 0.0


def shared_prefix(backend: Any, tokens: int) -> Message:
    """A system message whose rendered prompt head is about `tokens` tokens (bundled demo text, repeated)."""
    from importlib import resources

    text = resources.files("edgeprompt.shipped").joinpath("demo_corpus.txt").read_text(encoding="utf-8")
    words = text.split()
    lo, hi = 1, len(words)
    while backend.count_tokens([Message("system", " ".join(words[:hi]))]) < tokens:
        words, hi = words + words, hi * 2
    while lo < hi:  # the fewest words that reach the token count
        mid = (lo + hi) // 2
        if backend.count_tokens([Message("system", " ".join(words[:mid]))]) < tokens:
            lo = mid + 1
        else:
            hi = mid
    return Message("system", "Read this text and answer questions about it.\n\n" + " ".join(words[:lo]))


def _first(backend: Any, messages: Sequence[Message], max_tokens: int) -> tuple[str, Any]:
    out, stats = [], None
    for chunk in backend.stream(Request(tuple(messages), GenerationParams(max_tokens=max_tokens))):
        out.append(chunk.text)
        stats = chunk.stats or stats
    return "".join(out), stats


def prefix_bench(
    card: ModelCard,
    load: Callable[[str, str], Backend],
    prefix_tokens: int = 1000,
    runs: int = 3,
    max_tokens: int = 8,
    progress: Callable[[str], None] | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Bench `card`'s model, loaded by `load(model id, kind)`; the backend keeps its own prefix cache after."""
    kind = kind or ("onnx" if card.path_for("mlx") is None and card.path_for("hf") is None else "mlx")
    if kind == "onnx":
        return _onnx_prefix_bench(load(card.id, "onnx"), card.id, prefix_tokens, runs, max_tokens, progress)
    from edgeprompt.cache.prefix import PrefixCache

    if card.path_for("mlx") is None and card.path_for("hf") is None:
        raise UsageError(
            f"model '{card.id}' has no mlx folder (build the demo model with `edgeprompt models "
            "demo`, name one with -m, or measure onnx with --backend onnx)"
        )
    backend: Any = load(card.id, "mlx")  # an MlxBackend: its prefix_cache seam and model are used below
    kept = backend.prefix_cache  # what the app plugged in ([cache] prefix), put back when done
    system = shared_prefix(backend, prefix_tokens)
    asks = _asks(system, runs)
    key = f"bench:{card.id}"
    backend.prefix_cache = None
    _first(backend, asks[0], max_tokens)  # warm-up: MLX compiles kernels on first use
    if progress:
        progress(f"prefix bench: {card.id} on mlx, prefix {backend.count_tokens([system])} tokens, {runs} runs")
    cold = [_first(backend, a, max_tokens) for a in asks[1:]]
    with tempfile.TemporaryDirectory() as tmp:
        memory = PrefixCache(backend.model, key, 1 << 30, Path(tmp), 1 << 30)
        backend.prefix_cache = memory
        _first(backend, asks[0], max_tokens)  # fills the cache with the shared head
        warm = [_first(backend, a, max_tokens) for a in asks[1:]]
        disk = []
        for a in asks[1:]:  # a fresh process: empty memory, the saved hot prefix on disk
            backend.prefix_cache = PrefixCache(backend.model, key, 1 << 30, Path(tmp), 1 << 30)
            disk.append(_first(backend, a, max_tokens))
    backend.prefix_cache = kept
    return {
        **_compare(card.id, "mlx", cold, warm),
        "ttft_disk_ms": _median([s.ttft_ms for _, s in disk]),
        "reused_tokens_disk": int(statistics.median([s.reused_tokens for _, s in disk])),
        "same_output": [t for t, _ in cold] == [t for t, _ in warm] == [t for t, _ in disk],
    }


def _asks(system: Message, runs: int) -> list[list[Message]]:
    if runs + 1 > len(QUESTIONS):
        raise UsageError(f"at most {len(QUESTIONS) - 1} runs")
    return [[system, Message("user", q)] for q in QUESTIONS[: runs + 1]]


def _compare(model: str, kind: str, cold: list[tuple[str, Any]], warm: list[tuple[str, Any]]) -> dict[str, Any]:
    cold_ms = _median([s.ttft_ms for _, s in cold])
    warm_ms = _median([s.ttft_ms for _, s in warm])
    return {
        "model": model,
        "backend": kind,
        "runs": len(cold),
        "prompt_tokens": cold[0][1].prompt_tokens,
        "ttft_cold_ms": cold_ms,
        "ttft_warm_ms": warm_ms,
        "reused_tokens": int(statistics.median([s.reused_tokens for _, s in warm])),
        "speedup": round(cold_ms / warm_ms, 2) if warm_ms else 0.0,
        "same_output": [t for t, _ in cold] == [t for t, _ in warm],
        "load_average": round(os.getloadavg()[0], 2),
    }


def _onnx_prefix_bench(
    backend: Any, model: str, prefix_tokens: int, runs: int, max_tokens: int, progress: Callable[[str], None] | None
) -> dict[str, Any]:
    """onnx keeps live generators (no disk level): each question runs cold (reuse off) and warm in turn,
    so the machine's drift falls on both alike."""
    from edgeprompt.cache.chat_bench import reuse_off

    system = shared_prefix(backend, prefix_tokens)
    asks = _asks(system, runs)
    kept = backend.generators
    backend.reuse_prefixes(1 << 30)
    try:
        _first(backend, asks[0], max_tokens)  # warm-up, and the shared head goes live
        if progress:
            progress(f"prefix bench: {model} on onnx, prefix {backend.count_tokens([system])} tokens, {runs} runs")
        cold, warm = [], []
        for a in asks[1:]:
            with reuse_off(backend):
                cold.append(_first(backend, a, max_tokens))
            warm.append(_first(backend, a, max_tokens))
    finally:
        backend.generators = kept
    return _compare(model, "onnx", cold, warm)


def semantic_bench(
    cache: Cache,
    db: Database,
    embedder: Callable[[], Embedder],
    stored: Sequence[str],
    asked: Sequence[str],
    exact: int = 200,
    vectors: Any = None,
) -> dict[str, Any]:
    """Fill `cache` (over `db`, embedding with `embedder`) with `stored` questions, then time lookups of `asked`
    (not stored, not embedded before: each lookup embeds its question) and exact hits, with the raw sqlite-vec
    KNN alongside, and the same lookups by a peer cache on the same entries without the pair verifier (vector +
    guards only)."""
    from edgeprompt.cache import Cache, build_query

    plain = Cache(db, {**cache.settings, "verifier": False}, embedder, cache.threshold, cache.stamp_dir)
    memo = cache._memo()
    params = GenerationParams()

    def q(text: str) -> Any:
        return build_query(text, "bench/echo@0", "v", [Message("system", "S"), Message("user", text)], params)

    vecs = memo.embedder.embed_batch(list(stored)) if vectors is None else vectors
    with db.transaction():
        for text, vec in zip(stored, vecs, strict=True):
            cache.entries.put(q(text), "answer", vec, "seed", None, (0, 0), 0.0)
    n = cache.entries.sizes()["vectors"]
    embed_ms, lookup_ms, knn_ms, float_ms, hits = [], [], [], [], 0
    plain_ms, plain_hits, verified = [], 0, 0
    raw = _float_table(vecs)
    cpu_ms = []  # process CPU time (all threads): what a lookup costs on an otherwise idle machine
    for text in asked:
        t0 = time.perf_counter()
        vec = memo.embedder.embed(text)
        embed_ms.append((time.perf_counter() - t0) * 1000)
        memo.clear()  # the lookup below must embed its question itself (no memo of ours or the embedder's)
        memo.embedder.forget_recent()
        t0, c0 = time.perf_counter(), time.process_time()
        found = cache.lookup(q(text), count=False)
        lookup_ms.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((time.process_time() - c0) * 1000)
        hits += found.hit
        verified += "verifier" in found.guards
        plain._memo().clear()
        plain._memo().embedder.forget_recent()
        t0 = time.perf_counter()
        plain_hits += plain.lookup(q(text), count=False).hit
        plain_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        cache.entries.candidates(vec, q(text).scope)  # the lookup's own KNN query, without the entry reads
        knn_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        raw.execute("SELECT rowid, distance FROM v WHERE emb MATCH ? AND k = 5", (vec.tobytes(),)).fetchall()
        float_ms.append((time.perf_counter() - t0) * 1000)
    exact_ms, exact_cpu = [], []
    for text in list(stored)[:exact]:
        t0, c0 = time.perf_counter(), time.process_time()
        cache.lookup(q(text), count=False)
        exact_ms.append((time.perf_counter() - t0) * 1000)
        exact_cpu.append((time.process_time() - c0) * 1000)
    p95 = lambda xs: round(sorted(xs)[int(0.95 * (len(xs) - 1))], 2)  # noqa: E731
    return {
        "entries": n,
        "queries": len(asked),
        "semantic_hits": hits,
        "verified_candidates": verified,
        "semantic_lookup_p50_ms": _median(lookup_ms),
        "semantic_lookup_p95_ms": p95(lookup_ms),
        "without_verifier_hits": plain_hits,
        "without_verifier_lookup_p50_ms": _median(plain_ms),
        "verifier_over_without_p50": round(_median(lookup_ms) / _median(plain_ms), 3),
        "semantic_lookup_cpu_p50_ms": _median(cpu_ms),
        "exact_hit_cpu_p50_ms": _median(exact_cpu),
        "embed_p50_ms": _median(embed_ms),
        "raw_vec0_bit_knn_p50_ms": _median(knn_ms),
        "raw_vec0_float_knn_p50_ms": _median(float_ms),
        "exact_hit_p50_ms": _median(exact_ms),
        "exact_hit_p95_ms": p95(exact_ms),
        "lookup_minus_embed_over_raw_knn": round((_median(lookup_ms) - _median(embed_ms)) / _median(knn_ms), 2),
    }


def _float_table(vecs: Any) -> Any:
    """The plain sqlite-vec baseline: an exact float[384] cosine vec0 table of the same vectors, in memory."""
    import sqlean
    import sqlite_vec

    conn = sqlean.connect(":memory:")
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.execute("CREATE VIRTUAL TABLE v USING vec0(emb float[384] distance_metric=cosine)")
    conn.executemany("INSERT INTO v(rowid, emb) VALUES (?, ?)", ((i + 1, v.tobytes()) for i, v in enumerate(vecs)))
    return conn
