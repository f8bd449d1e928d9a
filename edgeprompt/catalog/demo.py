"""The demo model: built locally from nothing so the whole runtime works on a fresh machine.

`ensure_demo` trains a tiny Llama model on the bundled text (`demo_train`) and converts it for both
backends, into `<data home>/models/demo/{hf,mlx,onnx}` plus the user card `models/demo.toml`. Everything
is built in a temporary folder and renamed into place, so an interrupted build leaves nothing half-made.
It is a toy for trying the runtime; real use points at a real model folder (see docs/models.md).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.catalog.cards import ModelCard
from edgeprompt.catalog.demo_train import DEMO, DemoSpec, build_hf
from edgeprompt.errors import UsageError
from edgeprompt.paths import replace_folder

if TYPE_CHECKING:
    from edgeprompt.app import Runtime

DEMO_ID = "demo"
ONNX_BITS = 8  # int8 MatMulNBits: the tiny model keeps its words; int4 blurs them
DESCRIPTION = (
    "a toy: a tiny Llama model trained for about a minute on a few pages of bundled text, so "
    "the runtime works offline on a fresh machine; it writes words, not answers"
)

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class BuiltModel:
    """A model folder with hf/, mlx/ and onnx/ inside, and a card pointing at them."""

    folder: Path
    card: ModelCard
    stats: dict[str, Any]

    @property
    def hf(self) -> Path:
        return self.folder / "hf"

    @property
    def mlx(self) -> Path:
        return self.folder / "mlx"

    @property
    def onnx(self) -> Path:
        return self.folder / "onnx"


def folder_size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def make_card(model_id: str, folder: Path, spec: DemoSpec, relative_to: Path | None = None) -> ModelCard:
    base = folder.relative_to(relative_to) if relative_to else folder
    return ModelCard(
        id=model_id,
        backend="auto",
        paths={f: str(base / f) for f in ("hf", "mlx", "onnx")},
        quantization=f"mlx fp32, onnx int{ONNX_BITS}",
        context_length=spec.context_length,
        license="Apache-2.0",
        tags=("general", "demo"),
        description=DESCRIPTION,
        size_mb=folder_size_mb(folder),
    )


def build_model(
    folder: Path, spec: DemoSpec = DEMO, model_id: str = DEMO_ID, progress: Progress = None, threads: int = 0
) -> BuiltModel:
    """Build hf/ then mlx/ and onnx/ into `folder` (which must not exist yet), atomically."""
    from edgeprompt.catalog.convert import mlx_job, onnx_job, run_jobs

    t0 = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-build-", dir=folder.parent))
    try:
        (tmp / "hf").mkdir()
        if progress:
            progress(f"  training a {spec.layers}-layer, {spec.hidden}-wide model on the bundled text")
        stats: dict[str, Any] = dict(build_hf(tmp / "hf", spec, progress, threads))
        if progress:
            progress("  converting it for mlx and onnx")
        run_jobs([mlx_job(tmp / "hf", tmp / "mlx"), onnx_job(tmp / "hf", tmp / "onnx", ONNX_BITS)], progress)
        replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stats.update(build_s=round(time.perf_counter() - t0, 1), size_mb=folder_size_mb(folder))
    return BuiltModel(folder, make_card(model_id, folder, spec), stats)


def missing_tools() -> str | None:
    """None when the demo can be built here, else the one-line reason naming the pip command that fixes it:
    training needs torch and transformers, the copies need the onnxruntime-genai builder and mlx-lm."""
    from edgeprompt.catalog.cards import apple_silicon
    from edgeprompt.catalog.extras import have_build_tools, have_mlx, pip_hint

    extras = [e for e, ok in (("build", have_build_tools()), ("mlx", apple_silicon() or have_mlx())) if not ok]
    if not extras:
        return None
    return f"building the demo model needs the build tools: {pip_hint(*extras)}"


def demo_folder(rt: Runtime) -> Path:
    return rt.paths.models / DEMO_ID


def demo_ready(rt: Runtime) -> bool:
    folder = demo_folder(rt)
    return (
        (rt.paths.models / f"{DEMO_ID}.toml").exists()
        and (folder / "hf" / "config.json").exists()
        and (folder / "mlx" / "config.json").exists()
        and (folder / "onnx" / "genai_config.json").exists()
    )


def ensure_demo(rt: Runtime, progress: Progress = None, force: bool = False, spec: DemoSpec = DEMO) -> ModelCard:
    """Build the demo model once (or again with `force`) and register its card; returns the card."""
    from edgeprompt.backends.loader import physical_threads

    if demo_ready(rt) and not force:
        return rt.catalog.get(DEMO_ID)
    if (why := missing_tools()) is not None:
        raise UsageError(why)
    threads = physical_threads(int(rt.settings.get("model.threads")))
    built = build_model(demo_folder(rt), spec, DEMO_ID, progress, threads)
    card = make_card(DEMO_ID, built.folder, spec, relative_to=rt.paths.models)
    card = rt.catalog.add(card, overwrite=True)
    if progress:
        progress(
            f"demo model ready in {built.stats['build_s']:.0f}s ({built.stats['size_mb']} MB, "
            f"{built.stats['parameters'] / 1e6:.1f}M parameters, training loss {built.stats['loss']})"
        )
    return card
