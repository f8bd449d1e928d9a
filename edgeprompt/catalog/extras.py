"""Which optional installs this environment has: the build tools (convert, GGUF import) and MLX on Linux.

Its own leaf module so that `pull`, `convert` and `gguf_import` can all ask without importing each other.
"""

from __future__ import annotations

import importlib.util

BUILD_MODULES = ("onnx_ir", "onnx", "torch", "transformers")
BUILD_HINT = "pip install 'edgeprompt[build]'"
MLX_HINT = "pip install 'edgeprompt[mlx]'"


def have_build_tools() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in BUILD_MODULES)


def have_mlx() -> bool:
    return importlib.util.find_spec("mlx_lm") is not None
