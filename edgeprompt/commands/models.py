"""models list | add | remove | info (and, from the backends, demo | convert | pull)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group

if TYPE_CHECKING:
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "models", "model cards: what can answer, and where its weights are", common)
    add_command(g, "list", "installed models", common, cmd_list)
    p = add_command(g, "add", "register a local model folder (mlx-lm, onnxruntime-genai or Hugging Face)",
                    common, cmd_add)
    p.add_argument("path")
    p.add_argument("--id", help="model id (default: the folder's name)")
    p.add_argument("--tags", default="general", help="comma-separated routing tags (code,math,documents,…)")
    p = add_command(g, "remove", "forget a user model card (the folder is left alone)", common, cmd_remove)
    p.add_argument("id")
    p = add_command(g, "info", "one model card in full", common, cmd_info)
    p.add_argument("id")


def _row(card: Any, default: str) -> str:
    folders = ",".join(f for f in ("hf", "mlx", "onnx") if card.path_for(f) is not None) or "-"
    mark = "*" if card.id == default else " "
    return f"{mark} {card.id:<20} {card.backend:<10} {folders:<12} {card.quantization or '-':<8} " \
           f"ctx {card.context_length:<6} {','.join(card.tags)}"


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    cards = rt.catalog.cards()
    default = rt.default_model_id()
    ctx.emit({"default": default, "models": [c.as_dict() for c in cards]},
             lambda: "\n".join(_row(c, default) for c in cards))
    return 0


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.modelfiles import card_for_folder

    rt = ctx.runtime()
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    card = card_for_folder(Path(args.path), args.id, tags)
    card = rt.catalog.add(card)
    ctx.emit(card.as_dict(), f"added {card.id} ({', '.join(card.paths)}) from {args.path}")
    return 0


def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    card = ctx.runtime().catalog.remove(args.id)
    ctx.emit({"removed": card.id}, f"removed {card.id} (its folders were not deleted)")
    return 0


def cmd_info(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    card = rt.catalog.get(args.id)
    info = card.as_dict()
    info["exists"] = {f: p.exists() for f in ("hf", "mlx", "onnx") if (p := card.path_for(f)) is not None}
    ctx.emit(info)
    return 0
