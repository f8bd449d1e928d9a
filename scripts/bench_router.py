"""Benchmark routing decisions: p50/p95 of `Router.decide` (MiniLM embedding + rules + ONNX head + policy)
on the labelled set's prompts, next to the raw onnxruntime calls it is made of, in the same run.

Reported: decision wall and CPU time per call; the raw MiniLM session call and the raw head session call
on the same inputs (the peers the ratio is taken against); a long request (5,000 characters) with the
router's truncation against embedding it whole. CPU time is close to what an idle machine would show
when other jobs share the cores; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn: Any, items: list[Any], repeat: int) -> dict[str, float]:
    wall, cpu = [], []
    for _ in range(repeat):
        for item in items:
            c0, t0 = time.process_time(), time.perf_counter()
            fn(item)
            wall.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    return {
        "p50_ms": float(np.percentile(wall, 50)),
        "p95_ms": float(np.percentile(wall, 95)),
        "cpu_p50_ms": float(np.percentile(cpu, 50)),
        "n": len(wall),
    }


def raw_embed(embedder: Any, text: str) -> Any:
    """One MiniLM call straight on the onnxruntime session (tokenise + run), no edgeprompt code."""
    ids = np.array([embedder.tokenizer.encode(text).ids], dtype=np.int64)
    return embedder.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="data home (default: $EDGEPROMPT_HOME or the platform's)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from edgeprompt.app import Runtime
    from edgeprompt.routing.evaluation import load_set
    from edgeprompt.routing.router import router_text

    rt = Runtime.open(args.home)
    router = rt.router()
    texts = [r["text"] for r in load_set(split="test")]
    router.decide(texts[0])  # load the embedder and the head before timing
    embedder, head = rt.embedder(), router.head
    vecs = embedder.embed_batch(texts)

    def cold(r: Any, emb: Any) -> Any:
        """A decision with the embedding computed: the embedder's memo of recent texts is emptied first."""

        def decide(text: str) -> Any:
            emb.forget_recent()
            return r.decide(text)

        return decide

    decision = timed(cold(router, embedder), texts, args.repeat)
    embed = timed(lambda t: raw_embed(embedder, t), texts, args.repeat)
    head_call = timed(lambda v: head.session.run(None, {head.meta.input: v.reshape(1, -1)}), list(vecs), args.repeat)
    # the same decisions with a one-thread MiniLM session: its CPU time per call is close to the wall time an
    # idle machine would show, when other jobs share the cores (as on the machine these figures came from)
    from edgeprompt.embed import Embedder
    from edgeprompt.routing.router import Router

    one = Embedder(embedder.folder, threads=1)
    router1 = Router(
        rt.catalog,
        lambda: head,
        one.embed_batch,
        settings=rt.settings.section("routing"),
        default_model=rt.default_model_id,
    )
    router1.decide(texts[0])
    decision_1t = timed(cold(router1, one), texts, args.repeat)
    embed_1t = timed(lambda t: raw_embed(one, t), texts, args.repeat)
    long_text = "Summarise the key decisions in this: " + ("the committee discussed the budget at length. " * 110)
    long_decision = timed(cold(router, embedder), [long_text], 10)
    long_whole = timed(lambda t: raw_embed(embedder, t), [long_text], 10)
    out = {
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_1m": os.getloadavg()[0],
            "embed_threads": embedder.session.get_session_options().intra_op_num_threads,
        },
        "prompts": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "decision": decision,
        "raw_minilm_call": embed,
        "raw_head_call": head_call,
        "decision_over_raw_minilm_p50": round(decision["p50_ms"] / embed["p50_ms"], 2),
        "one_thread": {"decision": decision_1t, "raw_minilm_call": embed_1t},
        "long_request": {
            "chars": len(long_text),
            "router_chars": len(router_text(long_text)),
            "decision": long_decision,
            "raw_minilm_whole_text": long_whole,
        },
    }
    rt.close()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"load average {out['machine']['loadavg_1m']:.2f} on {out['machine']['cpus']} CPUs; "
        f"{len(texts)} prompts x {args.repeat}, mean {out['mean_chars']} chars"
    )
    for name in ("decision", "raw_minilm_call", "raw_head_call"):
        r = out[name]
        print(f"{name:<18} p50 {r['p50_ms']:7.3f} ms  p95 {r['p95_ms']:7.3f} ms  cpu p50 {r['cpu_p50_ms']:7.3f} ms")
    print(f"decision / raw MiniLM call (p50): {out['decision_over_raw_minilm_p50']}")
    for name, r in out["one_thread"].items():
        print(
            f"1 thread {name:<15} p50 {r['p50_ms']:7.3f} ms  p95 {r['p95_ms']:7.3f} ms  "
            f"cpu p50 {r['cpu_p50_ms']:7.3f} ms"
        )
    lr = out["long_request"]
    print(
        f"long request {lr['chars']} chars (router reads {lr['router_chars']}): decision p50 "
        f"{lr['decision']['p50_ms']:.2f} ms vs whole-text MiniLM p50 {lr['raw_minilm_whole_text']['p50_ms']:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
