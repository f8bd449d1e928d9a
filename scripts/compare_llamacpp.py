"""Developer script (not run in tests or CI): edgeprompt's onnx backend against llama.cpp on the same
weights, the same bits (int4 vs Q4_0, int8 vs Q8_0) and the same threads. Prints JSON.

Run it through `scripts/compare_llamacpp`, which prepares `.venv-llamacpp` (the llama-cpp-cffi wheel's
prebuilt llama.cpp library, driven here through llama.cpp's C API, and llama.cpp's convert_hf_to_gguf.py
from the llama-cpp-python sdist). The weights are a Hugging Face folder
(`--hf`, or a card's hf folder with `-m`), or by default a Llama model with random weights built here
(`--size`, with the demo tokenizer) so decode speeds are in the range of real small models.

This process (the project's venv) converts, quantizes and runs onnxruntime-genai; llama.cpp runs in a
worker process of `.venv-llamacpp`'s python (`--llama-worker`), so the two runtimes never share a process.
Both sides run the same prompt ids; every run records the 1-minute load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONVERT_DIR = ROOT / ".venv-llamacpp" / "llama.cpp-convert"
SIZES = {  # Llama configs; vocab 32000 so the output head costs what it does in real models
    "0.1b": {
        "hidden_size": 768,
        "intermediate_size": 2048,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "num_key_value_heads": 4,
    },
    "0.5b": {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "num_key_value_heads": 4,
    },
}
GGUF_TYPES = {4: "Q4_0", 8: "Q8_0"}


def info(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def random_llama(out: Path, size: str, tokenizer_from: Path) -> Path:
    """A Llama folder with random N(0, 0.02) bf16 weights and the demo tokenizer + chat template."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if (out / "config.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    # a long context so the same folder serves the context-length curve (bench_context, up to 16k tokens)
    cfg = LlamaConfig(
        vocab_size=32000,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=0,
        **SIZES[size],
    )
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(str(out), safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_from / name).exists():
            shutil.copy(tokenizer_from / name, out / name)
    info(f"random {size} Llama: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters in {out}")
    return out


def to_gguf(hf: Path, work: Path, bits: int) -> Path:
    """F16 GGUF with llama.cpp's converter (its pre-tokenizer check patched for a locally trained BPE; it
    imports torch, so it runs here), then quantized by llama.cpp itself in the worker."""
    f16 = work / "model-f16.gguf"
    if not f16.exists():
        patch = (
            "import sys; sys.path[:0] = [{d!r}, {g!r}]; import conversion.base as b; "
            "b.TextModel.get_vocab_base_pre = lambda self, t: 'qwen2'; import convert_hf_to_gguf as c; "
            "sys.argv = ['convert', {hf!r}, '--outtype', 'f16', '--outfile', {out!r}]; c.main()"
        )
        code = patch.format(d=str(CONVERT_DIR), g=str(CONVERT_DIR / "gguf-py"), hf=str(hf), out=str(f16))
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = work / f"model-{GGUF_TYPES[bits].lower()}.gguf"
    if not out.exists():
        worker({"quantize": str(f16), "out": str(out), "type": GGUF_TYPES[bits], "threads": 2})
    return out


def worker(job: dict[str, Any]) -> Any:
    """Run one llama.cpp job in `.venv-llamacpp`'s python; its JSON answer is the last line of stdout."""
    python = os.environ.get("LLAMA_PYTHON") or str(ROOT / ".venv-llamacpp" / "bin" / "python")
    env = {**os.environ, "LD_PRELOAD": os.environ.get("LLAMA_PRELOAD", "")}
    cmd = [python, __file__, "--llama-worker", json.dumps(job)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if run.returncode:
        tail = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        raise SystemExit(f"llama.cpp worker failed ({run.returncode}): {tail}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def llama_cpp_lib() -> tuple[Any, Any]:
    """llama.cpp's C API from the prebuilt CPU library of the llama-cpp-cffi wheel (`lib`, `ffi`).

    The extension is loaded by path: the wheel's package `__init__` imports Hugging Face and transformers,
    which the worker does not need. Its library references one libstdc++-14 symbol that older systems lack;
    `scripts/compare_llamacpp` preloads a one-function shim for it (llamacpp_shim.c)."""
    import importlib.util
    import sysconfig

    found = sorted(Path(sysconfig.get_paths()["purelib"], "llama").glob("_llama_cpp_cpu*.so"))
    if not found:
        raise SystemExit("llama-cpp-cffi is not installed in this python (run scripts/compare_llamacpp)")
    spec = importlib.util.spec_from_file_location("llama._llama_cpp_cpu", found[0])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.lib.llama_backend_init()
    return module.lib, module.ffi


def llama_worker(job: dict[str, Any]) -> Any:
    """In `.venv-llamacpp`: quantize a GGUF, or time one generation. Imports nothing of edgeprompt."""
    lib, ffi = llama_cpp_lib()
    if "quantize" in job:
        params = ffi.new("struct llama_model_quantize_params *")
        params[0] = lib.llama_model_quantize_default_params()
        params.ftype = getattr(lib, f"LLAMA_FTYPE_MOSTLY_{job['type']}")
        params.nthread = int(job.get("threads", 0))
        if lib.llama_model_quantize(job["quantize"].encode(), job["out"].encode(), params) != 0:
            raise SystemExit(f"llama.cpp could not quantize {job['quantize']} to {job['type']}")
        return {"ok": True}
    decode, prompt, load = llamacpp_runs(
        lib, ffi, Path(job["gguf"]), job["ids"], job["tokens"], job["threads"], job["runs"]
    )
    system = ffi.string(lib.llama_print_system_info()).decode()
    return {"decode": decode, "prompt": prompt, "load_average": load, "system": system}


def to_onnx(hf: Path, work: Path, bits: int) -> Path:
    from edgeprompt.catalog.convert import onnx_job, run_jobs

    out = work / f"onnx-int{bits}"
    if not (out / "genai_config.json").exists():
        run_jobs([onnx_job(hf, out, bits)], info)
    return out


def onnx_runs(
    folder: Path, messages: Any, tokens: int, threads: int, rounds: int, llama: Any
) -> tuple[list[float], list[float], list[int], list[float], list[Any]]:
    """Alternate the two runtimes round by round (one onnx run, then `llama(ids)`, one llama.cpp run in its
    worker), so a change in the shared machine's load hits both sides alike. Round 0 warms both up."""
    from edgeprompt.backends.base import GenerationParams, Request
    from edgeprompt.backends.onnx import OnnxBackend
    from edgeprompt.catalog.cards import ModelCard

    backend = OnnxBackend.load(ModelCard(id="compare", paths={"onnx": str(folder)}), threads=threads)
    ids = backend.prompt_ids(messages)
    decode, prompt, load, other = [], [], [], []
    for i in range(rounds + 1):  # fixed length (end-of-turn held off), no prefix reuse
        stats = None
        for chunk in backend.stream(Request(tuple(messages), GenerationParams(max_tokens=tokens, min_tokens=tokens))):
            stats = chunk.stats or stats
        if i and stats is not None:
            decode.append(stats.tokens_per_s)
            prompt.append(stats.prompt_tps)
            load.append(os.getloadavg()[0])
        got = llama(ids)
        if i:
            other.append(got)
    backend.close()
    return decode, prompt, ids, load, other


def llamacpp_runs(
    lib: Any, ffi: Any, gguf: Path, ids: list[int], tokens: int, threads: int, runs: int
) -> tuple[list[float], list[float], list[float]]:
    """What llama-cpp-python's generate does, on the C API: prefill the prompt in one batch, then one token
    a step, greedy; the KV cache is cleared between runs so every run prefills in full."""
    model = lib.llama_model_load_from_file(str(gguf).encode(), lib.llama_model_default_params())
    if model == ffi.NULL:
        raise SystemExit(f"llama.cpp could not load {gguf}")
    cparams = lib.llama_context_default_params()
    cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = 2048, 512, 512
    cparams.n_threads, cparams.n_threads_batch = threads, threads
    ctx = lib.llama_init_from_model(model, cparams)
    sampler = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
    lib.llama_sampler_chain_add(sampler, lib.llama_sampler_init_greedy())
    prompt_ids = ffi.new("llama_token[]", ids)
    one = ffi.new("llama_token[1]")
    decode, prompt, load = [], [], []
    for i in range(runs + 1):  # the first run warms up
        lib.llama_kv_self_clear(ctx)
        lib.llama_sampler_reset(sampler)
        t0 = time.perf_counter()
        if lib.llama_decode(ctx, lib.llama_batch_get_one(prompt_ids, len(ids))) != 0:
            raise SystemExit("llama.cpp could not decode the prompt")
        stamps = []
        while True:
            one[0] = lib.llama_sampler_sample(sampler, ctx, -1)
            stamps.append(time.perf_counter())
            if len(stamps) == tokens:  # fixed length: an end-of-turn token does not stop the run (as onnx)
                break
            if lib.llama_decode(ctx, lib.llama_batch_get_one(one, 1)) != 0:
                raise SystemExit("llama.cpp could not decode a token")
        if i:
            decode.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
            prompt.append(len(ids) / (stamps[0] - t0))
            load.append(os.getloadavg()[0])
    lib.llama_sampler_free(sampler)
    lib.llama_free(ctx)
    lib.llama_model_free(model)
    return decode, prompt, load


def prompt_messages(words: int) -> Any:
    from edgeprompt.backends.base import Message
    from edgeprompt.catalog.demo_train import corpus_exchanges

    text = " ".join(a for _, a in corpus_exchanges())
    return (Message("user", " ".join(text.split()[:words])),)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--hf", type=Path, help="a Hugging Face format folder")
    src.add_argument("-m", "--model", help="a model id whose card has an hf folder")
    src.add_argument("--size", choices=sorted(SIZES), default="0.1b", help="random-weight Llama to build (default)")
    p.add_argument("--bits", type=int, nargs="+", choices=[4, 8], default=[4, 8])
    p.add_argument("--threads", type=int, default=0, help="default: edgeprompt's model.threads setting")
    p.add_argument("--prompt-words", type=int, default=100)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--work", type=Path, default=ROOT / ".venv-llamacpp" / "work")
    p.add_argument("--llama-worker", metavar="JOB", help=argparse.SUPPRESS)  # internal: see `worker`
    args = p.parse_args()
    if args.llama_worker:
        print(json.dumps(llama_worker(json.loads(args.llama_worker))))
        return 0

    from edgeprompt.app import Runtime
    from edgeprompt.backends.loader import physical_threads

    with Runtime.open() as rt:
        threads = args.threads or physical_threads(int(rt.settings.get("model.threads")))
        if args.hf:
            hf, label = args.hf.resolve(), args.hf.name
        elif args.model:
            hf, label = rt.card(args.model).path_for("hf"), args.model
        else:
            from edgeprompt.catalog.demo import demo_ready, ensure_demo

            if not demo_ready(rt.catalog):
                ensure_demo(rt.catalog, rt.threads, progress=info)
            hf = random_llama(args.work / f"random-{args.size}", args.size, rt.paths.models / "demo" / "hf")
            label = f"random-{args.size}"
    if hf is None or not (hf / "config.json").exists():
        raise SystemExit("no Hugging Face folder to compare with (see --hf / -m)")
    work = args.work / label
    work.mkdir(parents=True, exist_ok=True)
    messages = prompt_messages(args.prompt_words)
    results = []
    for bits in args.bits:
        info(f"{label}: int{bits} (onnxruntime-genai) vs {GGUF_TYPES[bits]} (llama.cpp), {threads} threads")
        onnx_dir, gguf = to_onnx(hf, work, bits), to_gguf(hf, work, bits)
        job = {"gguf": str(gguf), "tokens": args.tokens, "threads": threads, "runs": 1}
        o_dec, o_pp, ids, o_load, got = onnx_runs(
            onnx_dir, messages, args.tokens, threads, args.runs, lambda ids, job=job: worker({**job, "ids": ids})
        )
        l_dec = [g["decode"][0] for g in got]
        l_pp = [g["prompt"][0] for g in got]
        l_load = [g["load_average"][0] for g in got]
        system = got[0]["system"] if got else ""
        info(f"  onnx decode {statistics.median(o_dec):.1f} tok/s, llama.cpp {statistics.median(l_dec):.1f} tok/s")
        o, ll = statistics.median(o_dec), statistics.median(l_dec)
        results.append(
            {
                "bits": bits,
                "onnx": f"int{bits}",
                "llamacpp": GGUF_TYPES[bits],
                "onnx_decode_tps": round(o, 1),
                "llamacpp_decode_tps": round(ll, 1),
                "ratio_decode": round(o / ll, 3),
                "onnx_prompt_tps": round(statistics.median(o_pp), 1),
                "llamacpp_prompt_tps": round(statistics.median(l_pp), 1),
                "ratio_prompt": round(statistics.median(o_pp) / statistics.median(l_pp), 3),
                "load_average_onnx": [round(x, 2) for x in o_load],
                "load_average_llamacpp": [round(x, 2) for x in l_load],
                "onnx_mb": round(sum(f.stat().st_size for f in onnx_dir.iterdir()) / 1e6, 1),
                "gguf_mb": round(gguf.stat().st_size / 1e6, 1),
                "onnx_runs": [round(x, 1) for x in o_dec],
                "llamacpp_runs": [round(x, 1) for x in l_dec],
                "llamacpp_build": system.strip(),
            }
        )
    print(
        json.dumps(
            {
                "model": label,
                "hf": str(hf),
                "threads": threads,
                "prompt_tokens": len(ids),
                "tokens": args.tokens,
                "runs": args.runs,
                "load_average": os.getloadavg()[0],
                "results": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
