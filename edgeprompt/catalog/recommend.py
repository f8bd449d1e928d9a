"""Which real language models suit this machine: a small shipped list (`shipped/recommend/models.toml`),
filtered by the backend this machine runs and by its memory.

Memory at 4k context is the installed weights plus the KV cache for 4096 tokens (16-bit keys and values,
from the model's layers, KV heads and head size) plus a fixed runtime overhead. A model is offered when
that fits in half the machine's RAM, leaving the rest to the system and the user's other programs.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import Catalog, ModelCard

CONTEXT = 4096
OVERHEAD_GB = 0.3  # runtime, tokenizer and activations, measured roughly on 0.5B-3B models
RAM_SHARE = 0.5
# expected decode speed by size, as classes: int4 on a recent laptop CPU (onnx) or Apple GPU (mlx)
SPEED = ((1.0, "fast"), (2.0, "medium"), (float("inf"), "slow"))
SPEED_TOKS = {
    "onnx": {"fast": "25+ tok/s", "medium": "10-25 tok/s", "slow": "4-10 tok/s"},
    "mlx": {"fast": "80+ tok/s", "medium": "40-80 tok/s", "slow": "15-40 tok/s"},
}


@dataclass(frozen=True)
class ModelChoice:
    id: str
    backend: str  # onnx | mlx: the machines it is offered on
    repo: str
    format: str  # onnx | mlx (ready to run) | hf (converted to int4 on pull; needs the build extra)
    params_b: float
    download_gb: float
    size_gb: float
    layers: int
    kv_heads: int
    head_dim: int
    license: str

    @property
    def memory_gb(self) -> float:
        kv = 2 * self.layers * self.kv_heads * self.head_dim * CONTEXT * 2 / 1e9
        return round(self.size_gb + kv + OVERHEAD_GB, 1)

    @property
    def speed(self) -> str:
        return next(label for limit, label in SPEED if self.params_b <= limit)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "memory_gb_4k": self.memory_gb,
            "speed": self.speed,
            "speed_toks": SPEED_TOKS[self.backend][self.speed],
            "pull": f"edgeprompt models pull {self.repo} --id {self.id}",
        }


def choices() -> list[ModelChoice]:
    text = resources.files("edgeprompt.shipped").joinpath("recommend/models.toml").read_text(encoding="utf-8")
    return [ModelChoice(**entry) for entry in tomllib.loads(text)["model"]]


def machine_backend() -> str:
    from edgeprompt.catalog.cards import apple_silicon

    return "mlx" if apple_silicon() else "onnx"


def machine_ram() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def recommend(ram_bytes: int, backend: str, build_tools: bool, limit: int = 6) -> list[ModelChoice]:
    """Up to `limit` choices for `backend` that fit in RAM_SHARE of `ram_bytes`, smallest first; sources that
    need converting only when the build tools are installed."""
    room = ram_bytes * RAM_SHARE / 1e9
    fit = [c for c in choices() if c.backend == backend and c.memory_gb <= room and (build_tools or c.format != "hf")]
    return sorted(fit, key=lambda c: (c.params_b, c.download_gb))[:limit]


def installed_models(catalog: Catalog) -> list[ModelCard]:
    """The user's real language models whose folders are present (not the toy, echo or extractive),
    the most recently added first."""
    from pathlib import Path

    found = []
    for card in catalog.cards():
        if card.origin != "user" or card.backend in ("echo", "extractive") or "demo" in card.tags:
            continue
        if any((p := card.path_for(f)) is not None and p.exists() for f in ("mlx", "onnx")):
            found.append(card)
    return sorted(found, key=lambda c: Path(c.card_path).stat().st_mtime, reverse=True)
