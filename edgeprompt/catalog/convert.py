"""Derive runnable folders from a Hugging Face format folder, offline: mlx-lm's converter for MLX and
onnxruntime-genai's model builder for ONNX (int4/int8 MatMulNBits). Downloads are `hubpull`'s.

The converters run as subprocesses: they print freely and import torch, and neither may reach our stdout
or stay in our memory. Each writes into a temporary sibling folder that is renamed into place at the end,
so an interrupted conversion never leaves a half-written model folder behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from edgeprompt.catalog.cards import ModelCard, apple_silicon
from edgeprompt.errors import ModelLoadError, UsageError
from edgeprompt.paths import replace_folder

ONNX_PRECISIONS = {None: "fp32", 4: "int4", 8: "int8"}


@dataclass(frozen=True)
class ConvertJob:
    """One converter run: `argv` writes into `out` (a fresh temporary folder)."""

    label: str
    argv: list[str]
    out: Path
    final: Path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "TQDM_DISABLE": "1",
        }
    )
    return env


def mlx_job(hf: Path, final: Path, bits: int | None = None) -> ConvertJob:
    """mlx-lm convert. Off Apple silicon the weights (and quantization scales) stay float32: MLX's CPU
    kernels are 8x faster with fp32 scales than with bf16 ones, and fp16/bf16 matmuls skip BLAS."""
    out = final.parent / f".{final.name}.tmp-{os.getpid()}"
    argv = [sys.executable, "-m", "mlx_lm", "convert", "--hf-path", str(hf), "--mlx-path", str(out)]
    if bits:
        argv += ["-q", "--q-bits", str(bits), "--q-group-size", "64"]
    if not apple_silicon():
        argv += ["--dtype", "float32"]
    return ConvertJob("mlx", argv, out, final)


def onnx_job(hf: Path, final: Path, bits: int | None = None) -> ConvertJob:
    """onnxruntime-genai's model builder for the CPU (`--help` crashes in 0.18; options are in builder.py)."""
    out = final.parent / f".{final.name}.tmp-{os.getpid()}"
    argv = [
        sys.executable,
        "-m",
        "onnxruntime_genai.models.builder",
        "-i",
        str(hf),
        "-o",
        str(out),
        "-p",
        ONNX_PRECISIONS[bits],
        "-e",
        "cpu",
        "-c",
        str(out / ".builder-cache"),
    ]
    return ConvertJob("onnx", argv, out, final)


def _tail(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(" ")]
    return (lines[-1] if lines else "no output")[:300]


def run_jobs(jobs: Sequence[ConvertJob], progress: Callable[[str], None] | None = None) -> None:
    """Run the converters side by side (most of their time is imports), then move each output into place."""
    for job in jobs:
        job.final.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(job.out, ignore_errors=True)
    procs = [
        (job, subprocess.Popen(job.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env()))
        for job in jobs
    ]
    failures = []
    for job, proc in procs:
        output, _ = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"{job.label} conversion failed: {_tail(output)}")
            shutil.rmtree(job.out, ignore_errors=True)
        elif progress:
            progress(f"  {job.label} folder ready")
    if failures:
        for job in jobs:
            shutil.rmtree(job.out, ignore_errors=True)
        raise ModelLoadError("; ".join(failures))
    for job in jobs:
        shutil.rmtree(job.out / ".builder-cache", ignore_errors=True)
        replace_folder(job.out, job.final)


def quant_label(fmt: str, bits: int | None) -> str:
    if fmt == "onnx":
        return ONNX_PRECISIONS[bits]
    return f"{bits}bit" if bits else ("fp32" if not apple_silicon() else "bf16")


def convert_card(
    card: ModelCard, fmt: str, bits: int | None, models_dir: Path, progress: Callable[[str], None] | None = None
) -> ModelCard:
    """Convert the card's hf folder to `fmt` under `<models>/<id>/`, and return the updated card."""
    from edgeprompt.catalog.files import check_safetensors

    if fmt not in ("mlx", "onnx"):
        raise UsageError("--to must be mlx or onnx")
    if bits not in (None, 4, 8):
        raise UsageError("--bits must be 4 or 8")
    hf = card.path_for("hf")
    if hf is None:
        raise UsageError(f"model '{card.id}' has no Hugging Face (hf) folder to convert from")
    check_safetensors(hf)
    from edgeprompt.catalog.extras import BUILD_HINT, MLX_HINT, have_build_tools, have_mlx

    if fmt == "onnx" and not have_build_tools():
        raise UsageError(f"converting to onnx needs the build tools: {BUILD_HINT}")
    if fmt == "mlx" and not have_mlx():
        raise UsageError(f"converting to mlx needs mlx-lm: {MLX_HINT}")
    final = models_dir / card.id / (fmt if bits is None else f"{fmt}-{quant_label(fmt, bits)}")
    job = mlx_job(hf, final, bits) if fmt == "mlx" else onnx_job(hf, final, bits)
    if progress:
        progress(f"converting {card.id} to {fmt} ({quant_label(fmt, bits)}); this can take a few minutes")
    run_jobs([job], progress)
    paths = dict(card.paths)
    paths[fmt] = str(final)
    if fmt == "mlx":
        paths.pop("adapter", None)  # a LoRA card's hf folder already has the adapter merged in
    quants = dict(part.split(" ", 1) for part in card.quantization.split(", ") if " " in part)
    quants[fmt] = quant_label(fmt, bits)
    return replace(card, paths=paths, quantization=", ".join(f"{k} {v}" for k, v in sorted(quants.items())))
