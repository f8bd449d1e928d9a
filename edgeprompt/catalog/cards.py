"""Model cards: shipped ones (`edgeprompt/shipped/*.toml`) and the user's (`<home>/models/*.toml`).

A card names the model's id, backend, where its weights are (local folders only; a hub id just for an
explicit online `models pull`), quantization, context length, licence and routing tags.
"""

from __future__ import annotations

import platform
import re
import sys
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from edgeprompt.errors import ConfigError, ModelNotFoundError, UsageError

BACKENDS = ("auto", "mlx", "onnx", "extractive", "echo")
TEST_BACKENDS = ("echo",)  # fakes for tests and trying the plumbing, not models: listed on request, never offered
# "adapter": an mlx-lm LoRA adapter folder the MLX backend loads on top of the `mlx` folder (federation)
FORMATS = ("hf", "mlx", "onnx", "adapter")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ModelCard:
    id: str
    backend: str = "auto"
    # folders by format: "hf" (source weights), "mlx" (mlx-lm), "onnx" (onnxruntime-genai), "adapter" (an mlx-lm
    # LoRA adapter applied on top of the mlx folder)
    paths: dict[str, str] = field(default_factory=dict)
    quantization: str = ""
    context_length: int = 2048
    license: str = ""
    tags: tuple[str, ...] = ("general",)
    description: str = ""
    hub_id: str = ""
    size_mb: float = 0.0
    origin: str = "user"  # shipped | user
    card_path: str = ""

    @property
    def test_fake(self) -> bool:
        return self.backend in TEST_BACKENDS

    def listed(self, default: str) -> bool:
        """Shown where the user's models are listed (`models list`, `doctor`): a test fake only when it is the
        default, since then it is what answers."""
        return not self.test_fake or self.id == default

    def path_for(self, fmt: str) -> Path | None:
        p = self.paths.get(fmt)
        if not p:
            return None
        path = Path(p).expanduser()
        if not path.is_absolute() and self.card_path:
            path = Path(self.card_path).parent / path
        return path

    def to_toml(self) -> str:
        lines = [f'id = "{self.id}"', f'backend = "{self.backend}"']
        for key in ("quantization", "license", "description", "hub_id"):
            value = getattr(self, key)
            if value:
                lines.append(f"{key} = {_q(value)}")
        lines.append(f"context_length = {self.context_length}")
        if self.size_mb:
            lines.append(f"size_mb = {self.size_mb:.1f}")
        lines.append("tags = [" + ", ".join(_q(t) for t in self.tags) + "]")
        if self.paths:
            lines.append("")
            lines.append("[paths]")
            for k, v in self.paths.items():
                lines.append(f"{k} = {_q(v)}")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "backend": self.backend,
            "paths": dict(self.paths),
            "quantization": self.quantization,
            "context_length": self.context_length,
            "license": self.license,
            "tags": list(self.tags),
            "description": self.description,
            "hub_id": self.hub_id,
            "size_mb": self.size_mb,
            "origin": self.origin,
            "card": self.card_path,
        }


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def parse_card(text: str, origin: str, where: str) -> ModelCard:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"model card {where}: {e}") from e
    cid = raw.get("id")
    if not isinstance(cid, str) or not ID_RE.match(cid):
        raise ConfigError(f"model card {where}: missing or invalid id")
    backend = raw.get("backend", "auto")
    if backend not in BACKENDS:
        raise ConfigError(f"model card {where}: backend must be one of {', '.join(BACKENDS)}")
    paths = raw.get("paths", {})
    if not isinstance(paths, dict) or any(k not in FORMATS for k in paths):
        raise ConfigError(f"model card {where}: [paths] keys must be among {', '.join(FORMATS)}")
    return ModelCard(
        id=cid,
        backend=backend,
        paths={k: str(v) for k, v in paths.items()},
        quantization=str(raw.get("quantization", "")),
        context_length=int(raw.get("context_length", 2048)),
        license=str(raw.get("license", "")),
        tags=tuple(raw.get("tags", ["general"])),
        description=str(raw.get("description", "")),
        hub_id=str(raw.get("hub_id", "")),
        size_mb=float(raw.get("size_mb", 0.0)),
        origin=origin,
        card_path=where,
    )


def _check_id(model_id: str) -> None:
    if not ID_RE.match(model_id):
        raise UsageError(f"invalid model id '{model_id}' (letters, digits, . _ -)")


def _taken(model_id: str) -> UsageError:
    return UsageError(f"model '{model_id}' already exists; remove it first or pick another --id")


class Catalog:
    """All cards visible from one data home; user cards override shipped ones with the same id."""

    def __init__(self, user_dir: Path) -> None:
        self.user_dir = user_dir

    def _shipped(self) -> list[ModelCard]:
        cards = []
        for entry in sorted(resources.files("edgeprompt.shipped").iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml") and entry.is_file():
                cards.append(parse_card(entry.read_text(encoding="utf-8"), "shipped", str(entry)))
        return cards

    def _user(self) -> list[ModelCard]:
        if not self.user_dir.is_dir():
            return []
        return [parse_card(p.read_text(encoding="utf-8"), "user", str(p)) for p in sorted(self.user_dir.glob("*.toml"))]

    def cards(self) -> list[ModelCard]:
        by_id: dict[str, ModelCard] = {}
        for c in self._shipped() + self._user():
            by_id[c.id] = c
        return sorted(by_id.values(), key=lambda c: c.id)

    def get(self, model_id: str) -> ModelCard:
        for c in self.cards():
            if c.id == model_id:
                return c
        raise ModelNotFoundError(model_id)

    def has(self, model_id: str) -> bool:
        return any(c.id == model_id for c in self.cards())

    def check_new_id(self, model_id: str) -> None:
        """Before minutes of download or conversion: a valid id that no card has yet (`add` checks again)."""
        _check_id(model_id)
        if self.has(model_id):
            raise _taken(model_id)

    def add(self, card: ModelCard, overwrite: bool = False) -> ModelCard:
        _check_id(card.id)
        self.user_dir.mkdir(parents=True, exist_ok=True)
        path = self.user_dir / f"{card.id}.toml"
        if path.exists() and not overwrite:
            raise _taken(card.id)
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(card.to_toml(), encoding="utf-8")
        tmp.replace(path)
        return replace(card, origin="user", card_path=str(path))

    def remove(self, model_id: str) -> ModelCard:
        card = self.get(model_id)
        if card.origin != "user":
            raise UsageError(f"model '{model_id}' ships with edgeprompt and cannot be removed")
        Path(card.card_path).unlink()
        return card


def resolve_backend(card: ModelCard, preferred: str = "auto") -> str:
    """The backend to run this card with on this machine."""
    if card.backend in ("echo", "extractive"):
        return card.backend
    if card.backend in ("mlx", "onnx"):
        return card.backend
    have = {f for f in ("mlx", "onnx") if card.path_for(f) is not None}
    if preferred in ("mlx", "onnx"):
        if preferred not in have:
            raise UsageError(
                f"model '{card.id}' has no {preferred} folder; try `edgeprompt models convert "
                f"{card.id} --to {preferred}`"
            )
        return preferred
    order = ("mlx", "onnx") if apple_silicon() else ("onnx", "mlx")
    for f in order:
        if f in have:
            return f
    raise UsageError(f"model '{card.id}' has no runnable folder (mlx or onnx)")
