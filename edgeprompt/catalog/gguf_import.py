"""`models add FILE.gguf`: a llama.cpp model file, rebuilt as an int4 onnxruntime-genai folder.

transformers reads the GGUF (through the `gguf` package): it dequantises the tensors, undoes llama.cpp's
q/k row order and rebuilds the tokenizer and chat template from the file's metadata; the Hugging Face
folder it writes then goes through the same model builder as every other conversion. That keeps one
runtime for every model (no llama.cpp backend to compile and keep in step); the price is a second
quantisation and the build extra. It runs as a subprocess, like the converters, so torch never stays in
our memory and its output never reaches our stdout.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgeprompt.catalog.cards import ModelCard
from edgeprompt.errors import NoSpaceError, UsageError

GGUF_MAGIC = b"GGUF"
# the dequantised folder is 16-bit: ~4x a 4-bit file; the int4 result adds about one more
SPACE_FACTOR = 5

Progress = Callable[[str], None] | None


def check_file(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    with open(path, "rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise UsageError(f"{path} is not a GGUF file (it does not start with 'GGUF')")


def check_space(path: Path, models_dir: Path, free: int | None = None) -> None:
    from edgeprompt.catalog.pull import free_bytes

    free = free_bytes(models_dir) if free is None else free
    need = path.stat().st_size * SPACE_FACTOR
    if need > free:
        raise NoSpaceError(f"importing {path.name} needs about {need / 1e9:.2f} GB and {free / 1e9:.2f} GB is free")


def import_gguf(path: Path, models_dir: Path, model_id: str, progress: Progress = None) -> ModelCard:
    """Rebuild `path` under `<models>/<id>/` and return its card (the GGUF itself is left where it is)."""
    from edgeprompt.catalog.convert import ConvertJob, run_jobs
    from edgeprompt.catalog.extras import BUILD_HINT, have_build_tools
    from edgeprompt.catalog.files import card_for_folder
    from edgeprompt.catalog.pull import runnable_card

    path = path.expanduser().resolve()
    check_file(path)
    if not have_build_tools() or not _have_gguf():
        raise UsageError(f"importing a GGUF file needs the build tools: `{BUILD_HINT}`")
    check_space(path, models_dir)
    hf = models_dir / model_id / "hf"
    out = hf.parent / f".hf.tmp-gguf-{model_id}"
    if progress:
        progress(f"reading {path.name} (dequantising; this can take a few minutes)")
    argv = [sys.executable, "-m", "edgeprompt.catalog.gguf_import", str(path), str(out)]
    run_jobs([ConvertJob("gguf", argv, out, hf)], progress)
    card = card_for_folder(hf, model_id, ("general",))
    card = replace(card, description=f"imported from {path.name}")
    card = runnable_card(card, models_dir, progress)
    if card.path_for("onnx") is not None:  # the 16-bit copy only served the conversion
        shutil.rmtree(hf, ignore_errors=True)
        card = replace(card, paths={k: v for k, v in card.paths.items() if k not in ("hf", "mlx")})
    return card


def _have_gguf() -> bool:
    import importlib.util

    return importlib.util.find_spec("gguf") is not None


def _dequantise(src: Path, out: Path) -> None:
    """The subprocess: GGUF -> a bfloat16 Hugging Face folder (weights, config, tokenizer, chat template)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out.mkdir(parents=True, exist_ok=True)
    try:  # transformers >= 5 keeps GGUF blocks packed unless told to unpack them
        from transformers import GgufConfig

        unpack: dict[str, Any] = {"quantization_config": GgufConfig(gguf_file=src.name, dequantize=True)}
    except ImportError:
        unpack = {}
    model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.bfloat16, **unpack)
    # the weights are dense tensors now, but transformers marks a GGUF-loaded model "quantized" and refuses
    # save_pretrained: write the tensors (tied ones as copies) and the config without that mark
    save_file(
        {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
        str(out / "model.safetensors"),
        metadata={"format": "pt"},
    )
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    config["architectures"] = config.get("architectures") or [type(model).__name__]  # the builder dispatches on it
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    if model.generation_config is not None:
        model.generation_config.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name).save_pretrained(str(out))


if __name__ == "__main__":
    _dequantise(Path(sys.argv[1]), Path(sys.argv[2]))
