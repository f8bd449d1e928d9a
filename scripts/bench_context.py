"""Developer script: the context-length curve of an onnxruntime-genai model folder. Prints JSON.

At each context length (512, 2k, 8k, 16k by default) a fresh process loads the model, prefills that many
tokens (in 512-token chunks: one 16k-token append would build 16 heads x 16k x 16k attention scores at
once) and decodes `--decode` tokens greedily; it reports prefill and decode tokens/s and its peak RSS. The
parent measures memory bandwidth with a numpy copy (2 threads, STREAM counting: bytes read + written) and
draws the bandwidth-bound decode limit, BW / (weight bytes + KV bytes at that context), next to the curve.
`--html` writes the benchmark page (edgeprompt.observatory.bench_page), `--svg` the decode curve alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def copy_bandwidth_gbs(threads: int, size_mb: int = 256, repeats: int = 5) -> float:
    """Best numpy copy bandwidth (read + write bytes) over arrays well beyond the caches."""
    import numpy as np

    src = np.ones(size_mb * (1 << 20) // 4, dtype=np.float32)
    dst = np.empty_like(src)
    parts = list(zip(np.array_split(dst, threads), np.array_split(src, threads), strict=True))
    best = 0.0
    with ThreadPoolExecutor(max_workers=threads) as pool:  # numpy releases the GIL while copying
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            list(pool.map(lambda p: np.copyto(p[0], p[1]), parts))
            best = max(best, 2 * src.nbytes / (time.perf_counter() - t0) / 1e9)
    return best


def one_point(folder: Path, context: int, decode: int, threads: int, chunk: int) -> dict[str, Any]:
    """Runs in its own process so ru_maxrss is this context's peak."""
    import numpy as np
    import onnxruntime_genai as og

    config = og.Config(str(folder))
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": threads}}}}))
    model = og.Model(config)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    vocab = json.loads((folder / "genai_config.json").read_text())["model"]["vocab_size"]
    ids = np.random.default_rng(0).integers(3, vocab, context).astype(np.int32)
    params = og.GeneratorParams(model)
    total = context + 1 + decode  # the first token comes from the prefill's logits, then `decode` steps
    params.set_search_options(max_length=total, min_length=total, do_sample=False)  # no early end-of-text
    gen = og.Generator(model, params)
    t0 = time.perf_counter()
    for i in range(0, context, chunk):
        gen.append_tokens(ids[i : i + chunk])
    gen.get_logits()  # the last chunk's logits are ready: prefill done
    t1 = time.perf_counter()
    gen.generate_next_token()  # samples from the prefill's logits, no forward pass
    t2 = time.perf_counter()
    for _ in range(decode):
        gen.generate_next_token()
    t3 = time.perf_counter()
    return {
        "context": context,
        "threads": threads,
        "prefill_s": round(t1 - t0, 3),
        "prefill_tps": round(context / (t1 - t0), 1),
        "decode_tps": round(decode / (t3 - t2), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
        "loaded_rss_mb": round(rss_loaded, 1),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="an onnxruntime-genai model folder (genai_config.json)")
    p.add_argument("--contexts", type=int, nargs="+", default=[512, 2048, 8192, 16384])
    p.add_argument("--decode", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chunk", type=int, default=512)
    p.add_argument("--label", default="", help="the model's name on the page (default: the folder's)")
    p.add_argument("--html", type=Path, help="also write the benchmark page here")
    p.add_argument("--svg", type=Path, help="also write the decode curve as one SVG image (the README's)")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one context, in this process
    args = p.parse_args()
    folder = args.folder.resolve()
    if not (folder / "genai_config.json").exists():
        raise SystemExit(f"bench_context: no genai_config.json in {folder}")
    if args.one:
        print(json.dumps(one_point(folder, args.one, args.decode, args.threads, args.chunk)))
        return 0

    from edgeprompt.backends.onnx_prefix import kv_bytes_per_position
    from edgeprompt.catalog.bench import onnx_bytes_per_token

    decoder = json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]
    bandwidth = copy_bandwidth_gbs(args.threads)
    weights, per_position = onnx_bytes_per_token(folder), kv_bytes_per_position(decoder)
    points = []
    for context in args.contexts:
        run = subprocess.run(
            [
                sys.executable,
                __file__,
                str(folder),
                "--one",
                str(context),
                "--decode",
                str(args.decode),
                "--threads",
                str(args.threads),
                "--chunk",
                str(args.chunk),
            ],
            capture_output=True,
            text=True,
        )
        if run.returncode:
            raise SystemExit(f"bench_context: context {context} failed: {run.stderr.strip().splitlines()[-1:]}")
        point = json.loads(run.stdout.strip().splitlines()[-1])
        limit = bandwidth * 1e9 / (weights + per_position * (context + args.decode // 2))
        point.update(limit_tps=round(limit, 1), decode_over_limit=round(point["decode_tps"] / limit, 3))
        print(json.dumps(point), file=sys.stderr, flush=True)
        points.append(point)
    report = {
        "model": args.label or folder.name,
        "folder": str(folder),
        "threads": args.threads,
        "decode_tokens": args.decode,
        "copy_bandwidth_gbs": round(bandwidth, 2),
        "weight_bytes_per_token": weights,
        "kv_bytes_per_position": per_position,
        "points": points,
    }
    if args.html:
        from edgeprompt.observatory.bench_page import render

        args.html.write_text(render([report]), encoding="utf-8")
    if args.svg:
        from edgeprompt.observatory.bench_page import decode_chart

        args.svg.write_text(decode_chart(report) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
