"""bench: decode speed against this machine's bandwidth limit and the raw runtime (see edgeprompt.catalog.bench).

Flags from other areas: add them in `add_arguments`, carry them into `BenchOptions` in `options`, and
measure them in `edgeprompt.catalog.bench.run_bench`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.catalog.bench import BenchOptions
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub, "bench", "measure decode speed: machine limit, raw runtime, full pipeline (ratio)", common, cmd_bench
    )
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", help="model id (default: the default model)")
    p.add_argument("--backend", choices=["mlx", "onnx"], help="force a backend for a model that has both")
    p.add_argument("--question", default=None, help="the prompt to generate from")
    p.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="tokens per generation (default: 128, more for a fast model: at least 0.25 s of decode, at most 1024)",
    )
    p.add_argument("--runs", type=int, default=9, help="timed runs of each loop; figures are medians (default 9)")
    p.add_argument(
        "--prefix-cache",
        action="store_true",
        help="instead: time to first token with a 1,000-token shared prefix, without and with KV reuse "
        "(MLX, or onnx with --backend onnx; edgeprompt.cache.bench)",
    )
    p.add_argument(
        "--chat",
        type=int,
        metavar="TURNS",
        default=None,
        help="instead: a chat of TURNS turns over a 1,000-token document, time to first token per turn "
        "without and with prefix reuse (edgeprompt.cache.chat_bench)",
    )


def options(args: argparse.Namespace) -> BenchOptions:
    from edgeprompt.catalog.bench import DEFAULT_QUESTION, BenchOptions

    if (args.max_tokens is not None and args.max_tokens < 2) or args.runs < 1:
        raise UsageError("--max-tokens must be at least 2 and --runs at least 1")
    return BenchOptions(
        model=args.model,
        backend=args.backend,
        question=args.question or DEFAULT_QUESTION,
        max_tokens=args.max_tokens,
        runs=args.runs,
    )


def _text(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{r['model']} on {r['backend']} ({r['threads']} threads), prompt {r['prompt_tokens']} → "
            f"{r['completion_tokens']} tokens, median of {r['runs']}",
            f"  memory bandwidth   {r['bandwidth_gbs']:>9.2f} GB/s; {r['weight_bytes_per_token'] / 1e6:.1f} MB weights "
            f"+ {r['kv_bytes_per_token'] / 1e6:.2f} MB KV read per token",
            f"  limit              {r['limit_tps']:>9.1f} tok/s (bandwidth-bound decode)",
            f"  raw runtime        {r['generation_tps_raw']:>9.1f} tok/s decode, "
            f"{r['prompt_tps_raw']:.1f} tok/s prompt",
            f"  through pipeline   {r['generation_tps_pipeline']:>9.1f} tok/s decode "
            f"(ratio {r['ratio']:.3f}; goal >= 0.95)",
            f"  peak RSS           {r['peak_rss_mb']:>9.1f} MB",
        ]
    )


def _chat(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.cache.bench import shared_prefix
    from edgeprompt.cache.chat_bench import chat_bench

    rt = ctx.runtime()
    card = rt.card(args.model)
    backend = rt.backend(card.id, rt.backend_kind(card, args.backend))
    result = chat_bench(
        backend, shared_prefix(backend, 1000), turns=args.chat, max_tokens=args.max_tokens or 32, progress=ctx.info
    )
    report = result.summary()
    ctx.emit(
        report,
        lambda: "\n".join(
            [
                f"{report['model']} on {report['backend']}: {report['turns']}-turn chat over a document, "
                "time to first token"
            ]
            + [
                f"  turn {t.n:>2}  {t.prompt_tokens:>5} prompt tokens  cold {t.ttft_cold_ms:>8.0f} ms  warm "
                f"{t.ttft_warm_ms:>7.0f} ms  reused {t.reused_tokens:>5}  {t.speedup}x"
                for t in result.turns
            ]
            + [
                f"  last turn / first turn (warm): {report['last_over_first_warm']}; "
                f"same output: {report['same_output']}"
            ]
        ),
    )
    return 0


def cmd_bench(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt import pipeline
    from edgeprompt.catalog.bench import run_bench, without_answer_cache

    if args.prefix_cache:
        from edgeprompt.cache.bench import prefix_bench

        rt = ctx.runtime()
        report = prefix_bench(
            rt.card(args.model), rt.backend, runs=min(args.runs, 7), progress=ctx.info, kind=args.backend
        )
        disk = f", {report['ttft_disk_ms']:.0f} ms from a saved prefix" if "ttft_disk_ms" in report else ""
        ctx.emit(
            report,
            lambda: (
                f"{report['model']}: first token after a {report['prompt_tokens']}-token prompt: "
                f"{report['ttft_cold_ms']:.0f} ms cold, {report['ttft_warm_ms']:.0f} ms reusing "
                f"{report['reused_tokens']} tokens ({report['speedup']}x){disk}"
            ),
        )
        return 0
    if args.chat is not None:
        return _chat(args, ctx)

    rt = ctx.runtime()
    rt.settings = without_answer_cache(rt.settings)  # before the pipeline's first request
    opts = options(args)
    card = rt.card(opts.model)
    kind = rt.backend_kind(card, opts.backend)
    report = run_bench(
        opts, card, kind, rt.threads, rt.backend, lambda request: pipeline.run(request, rt), progress=ctx.info
    )
    ctx.emit(report, lambda: _text(report))
    return 0
