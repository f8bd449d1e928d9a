"""models list | add | remove | info | demo | convert | pull."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.catalog.pull import PullPlan
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "models", "model cards: what can answer, and where its weights are", common)
    p = add_command(g, "list", "installed models", common, cmd_list)
    p.add_argument("--all", action="store_true", help="also the test fakes (echo)")
    p = add_command(
        g,
        "add",
        "register a local model folder (mlx-lm, onnxruntime-genai or Hugging Face), or "
        "import a GGUF file (rebuilt as int4 onnxruntime-genai; needs the build extra)",
        common,
        cmd_add,
    )
    p.add_argument("path", help="a model folder or a .gguf file")
    p.add_argument("--id", help="model id (default: the folder's name)")
    p.add_argument("--tags", default="general", help="comma-separated routing tags (code,math,documents,…)")
    p = add_command(g, "remove", "forget a user model card (the folder is left alone)", common, cmd_remove)
    p.add_argument("id", help="model id (see models list)")
    p = add_command(g, "info", "one model card in full", common, cmd_info)
    p.add_argument("id", help="model id (see models list)")
    p = add_command(
        g, "demo", "build the tiny demo model (a toy, about a minute on 2 cores) for both backends", common, cmd_demo
    )
    p.add_argument("--force", action="store_true", help="rebuild it even if it exists")
    p = add_command(
        g, "convert", "make an mlx or onnx folder from a model's Hugging Face folder (offline)", common, cmd_convert
    )
    p.add_argument("id", help="model id whose card has a Hugging Face folder")
    p.add_argument("--to", required=True, choices=["mlx", "onnx"], help="target format")
    p.add_argument("--bits", type=int, choices=[4, 8], help="quantize the weights (default: keep float)")
    p = add_command(
        g,
        "pull",
        "download a ready-made model from the Hugging Face hub (onnxruntime-genai, MLX, "
        "or safetensors converted here) and add its card; needs the network",
        common,
        cmd_pull,
    )
    p.add_argument("hub_id", metavar="REPO_ID", help="owner/name on the Hugging Face hub (HF_ENDPOINT is honoured)")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.add_argument("--id", help="model id (default: the repository's name)")
    p = add_command(
        g,
        "recommend",
        "real language models that suit this machine's memory and backend (3-6 choices; nothing is downloaded)",
        common,
        cmd_recommend,
    )
    p.add_argument("--all", action="store_true", help="every model for this backend, also those too big here")


def _row(card: Any, default: str) -> str:
    folders = ",".join(f for f in ("hf", "mlx", "onnx") if card.path_for(f) is not None) or "-"
    mark = "*" if card.id == default else " "
    return (
        f"{mark} {card.id:<20} {card.backend:<10} {folders:<12} {card.quantization or '-':<8} "
        f"{card.context_length:<10} {','.join(card.tags)}"
    )


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    default = rt.default_model_id()
    every = rt.catalog.cards()
    cards = [c for c in every if args.all or c.listed(default)]
    header = f"  {'ID':<20} {'BACKEND':<10} {'FOLDERS':<12} {'QUANT':<8} {'CONTEXT':<10} TAGS"
    legend = "* = the default model" + ("; test fakes hidden (--all lists them)" if len(cards) < len(every) else "")
    ctx.emit(
        {"default": default, "models": [c.as_dict() for c in cards]},
        lambda: "\n".join([header, *(_row(c, default) for c in cards), legend]),
    )
    return 0


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.catalog.files import card_for_folder

    rt = ctx.runtime()
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    path = Path(args.path)
    if path.suffix.lower() == ".gguf":
        card = _import_gguf(path, args.id, tags, ctx)
    else:
        card = card_for_folder(path, args.id, tags)
    card = rt.catalog.add(card)
    ctx.emit(card.as_dict(), f"added {card.id} ({', '.join(card.paths)}) from {args.path}")
    return 0


def _import_gguf(path: Path, model_id: str | None, tags: tuple[str, ...], ctx: Context) -> Any:
    from edgeprompt.catalog.gguf_import import check_file, import_gguf
    from edgeprompt.catalog.pull import model_id_for

    rt = ctx.runtime()
    check_file(path)
    model_id = model_id or model_id_for(path.stem)
    rt.catalog.check_new_id(model_id)  # before minutes of conversion, not after
    card = import_gguf(path, rt.paths.models, model_id, progress=ctx.info)
    return replace(card, tags=tags or card.tags)


def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    card = ctx.runtime().catalog.remove(args.id)
    ctx.emit({"removed": card.id}, f"removed {card.id} (its folders were not deleted)")
    return 0


def cmd_info(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    card = rt.catalog.get(args.id)
    info = card.as_dict()
    info["exists"] = {f: p.exists() for f in ("hf", "mlx", "onnx") if (p := card.path_for(f)) is not None}
    ctx.emit(info, lambda: info_text(info))
    return 0


def info_text(info: dict[str, Any]) -> str:
    """A model card as `key  value` lines; folders say whether they are on disk (JSON only with --json)."""
    lines = []
    for key, value in info.items():
        if key in ("paths", "exists"):
            continue
        if isinstance(value, list | tuple):
            value = ", ".join(map(str, value)) or "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        lines.append(f"{key:<16} {'-' if value in (None, '') else value}")
    for fmt, path in (info.get("paths") or {}).items():
        there = info.get("exists", {}).get(fmt)
        lines.append(f"{fmt + ' folder':<16} {path}" + ("" if there is None else "" if there else "  (missing)"))
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.catalog.demo import demo_ready, ensure_demo

    rt = ctx.runtime()
    built = args.force or not demo_ready(rt.catalog)
    card = ensure_demo(rt.catalog, rt.threads, progress=ctx.info, force=args.force)
    ctx.emit(
        {**card.as_dict(), "built": built},
        f'{card.id} is ready ({card.size_mb} MB): try `edgeprompt ask -m {card.id} "hello"`',
    )
    return 0


def cmd_convert(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.catalog.convert import convert_card

    rt = ctx.runtime()
    card = convert_card(rt.catalog.get(args.id), args.to, args.bits, rt.paths.models, progress=ctx.info)
    card = rt.catalog.add(card, overwrite=True)
    ctx.emit(card.as_dict(), f"{card.id}: {args.to} folder at {card.paths[args.to]} ({card.quantization})")
    return 0


def pull_model(
    ctx: Context, hub_id: str, model_id: str | None = None, revision: str | None = None
) -> tuple[ModelCard, PullPlan]:
    """Plan, check and install one hub repository; returns (card, plan). Shared by `models pull` and `setup`."""
    return ctx.runtime().first_run().install(hub_id, model_id, revision, progress=ctx.info)


def cmd_pull(args: argparse.Namespace, ctx: Context) -> int:
    card, p = pull_model(ctx, args.hub_id, args.id, args.revision)
    ctx.emit(
        {**card.as_dict(), "layout": p.layout, "commit": p.commit, "download_bytes": p.download_bytes},
        f'added {card.id} ({p.layout}, {p.download_bytes / 1e6:.1f} MB): try `edgeprompt ask -m {card.id} "hello"`',
    )
    return 0


def recommend_table(picks: list[Any]) -> str:
    wide = max([len("REPOSITORY"), *(len(c.repo) for c in picks)])
    head = f"  {'ID':<14} {'REPOSITORY':<{wide}} {'DOWNLOAD':>8} {'MEM@4K':>7}  {'SPEED':<21} LICENCE"
    rows = [
        f"  {c.id:<14} {c.repo:<{wide}} {c.download_gb:>6.2f}GB {c.memory_gb:>5.1f}GB  "
        f"{c.speed + ' (' + c.as_dict()['speed_toks'] + ')':<21} {c.license}"
        + (" [converted to int4 on pull]" if c.format == "hf" else "")
        for c in picks
    ]
    return "\n".join([head, *rows])


def cmd_recommend(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.catalog.extras import BUILD_HINT, have_build_tools
    from edgeprompt.catalog.recommend import choices, machine_backend, machine_ram, recommend

    backend, ram, build = machine_backend(), machine_ram(), have_build_tools()
    if args.all:
        picks = sorted((c for c in choices() if c.backend == backend), key=lambda c: c.params_b)
    else:
        picks = recommend(ram, backend, build)
    lines = [
        f"for this machine ({ram / 1024**3:.0f} GiB RAM, {backend} backend):",
        recommend_table(picks),
        "install one: edgeprompt models pull REPOSITORY --id ID",
    ]
    if not build and not args.all:
        lines.append(f"more choices (safetensors converted here) after `{BUILD_HINT}`")
    ctx.emit(
        {"backend": backend, "ram_bytes": ram, "build_tools": build, "models": [c.as_dict() for c in picks]},
        "\n".join(lines),
    )
    return 0


def offer_models(ctx: Context, repo: str | None, offline: bool, quiet: bool) -> str | None:
    """`setup`: install `repo` when named; else, with no real model installed, show the recommendations and
    download one only on an explicit yes at a terminal (the app's first start asks the same through
    `FirstRun`). Returns the installed model's id, or None."""
    import sys

    first = ctx.runtime().first_run()
    if repo:
        return pull_model(ctx, repo)[0].id
    if offline or not (picks := first.offer(again=not quiet)):
        return None
    interactive = not ctx.json and sys.stdin.isatty() and sys.stderr.isatty()
    if not interactive or first.declined:
        if not quiet:
            ctx.info(
                "no language model installed (the demo is a toy): `edgeprompt models recommend` lists some "
                "for this machine; `edgeprompt setup --model REPOSITORY` installs one"
            )
        return None
    ctx.info("no language model is installed (the demo is a toy). These suit this machine:")
    ctx.info(
        "\n".join(f"  {n}. {line.strip()}" if n else line for n, line in enumerate(recommend_table(picks).splitlines()))
    )
    ctx.info(f"download one now? a number 1-{len(picks)}, or Enter to skip (works offline without one)")
    print("> ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip()
    if not answer.isdigit() or not 1 <= int(answer) <= len(picks):
        first.decline()
        ctx.info("skipped; `edgeprompt models recommend` shows these again")
        return None
    pick = picks[int(answer) - 1]
    return pull_model(ctx, pick.repo, pick.id)[0].id
