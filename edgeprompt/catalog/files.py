"""Model folders on disk: recognise their format and check they are complete, before anything loads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeprompt.catalog.cards import ModelCard
from edgeprompt.errors import ModelLoadError


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"{path} is unreadable or not JSON ({e.__class__.__name__})") from e
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return data


def detect(folder: Path) -> str:
    """'onnx' (onnxruntime-genai), 'mlx' (mlx-lm; quantized), or 'hf' (Hugging Face safetensors)."""
    if not folder.exists():
        raise ModelLoadError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file; give the model's folder")
    if (folder / "genai_config.json").exists():
        check_onnx(folder)
        return "onnx"
    if (folder / "config.json").exists():
        cfg = check_safetensors(folder)
        return "mlx" if "quantization" in cfg else "hf"
    raise ModelLoadError(f"{folder} is not a model folder (no config.json or genai_config.json)")


def check_onnx(folder: Path) -> dict[str, Any]:
    cfg = _read_json(folder / "genai_config.json")
    try:
        name = cfg["model"]["decoder"]["filename"]
    except (KeyError, TypeError) as e:
        raise ModelLoadError(f"{folder / 'genai_config.json'} has no model.decoder.filename") from e
    if not (folder / name).exists():
        raise ModelLoadError(f"{folder} is incomplete: {name} is missing")
    if not (folder / "tokenizer.json").exists() and not (folder / "tokenizer.model").exists():
        raise ModelLoadError(f"{folder} is incomplete: no tokenizer")
    return cfg


def check_safetensors(folder: Path) -> dict[str, Any]:
    cfg = _read_json(folder / "config.json")
    weights = list(folder.glob("*.safetensors"))
    if not weights:
        raise ModelLoadError(f"{folder} is incomplete: no *.safetensors weights")
    for w in weights:
        # a safetensors file starts with an 8-byte header length; a truncated copy fails here, not mid-load
        size = w.stat().st_size
        with open(w, "rb") as f:
            head = f.read(8)
        if len(head) < 8 or int.from_bytes(head, "little") + 8 > size:
            raise ModelLoadError(f"{w} is truncated or corrupt")
    if not (folder / "tokenizer.json").exists() and not (folder / "tokenizer.model").exists():
        raise ModelLoadError(f"{folder} is incomplete: no tokenizer")
    return cfg


def context_length(folder: Path, fmt: str) -> int:
    if fmt == "onnx":
        cfg = _read_json(folder / "genai_config.json")
        return int(cfg.get("model", {}).get("context_length") or 2048)
    cfg = _read_json(folder / "config.json")
    return int(cfg.get("max_position_embeddings") or 2048)


def card_for_folder(folder: Path, model_id: str | None, tags: tuple[str, ...]) -> ModelCard:
    folder = folder.expanduser().resolve()
    fmt = detect(folder)
    paths = {fmt: str(folder)}
    if fmt == "hf":
        paths["mlx"] = str(folder)  # mlx-lm loads Hugging Face folders directly
    quant = ""
    if fmt == "mlx":
        q = _read_json(folder / "config.json").get("quantization") or {}
        quant = f"{q.get('bits', '')}bit" if q else ""
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    return ModelCard(
        id=model_id or folder.name,
        backend="auto",
        paths=paths,
        quantization=quant,
        context_length=context_length(folder, fmt),
        tags=tags or ("general",),
        description=f"added from {folder}",
        size_mb=round(size, 1),
    )
