"""sessions list | show | rename | delete | export | attach | detach."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group

if TYPE_CHECKING:
    from edgeprompt.cli import Context
    from edgeprompt.store.sessions import Session, Turn


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "sessions", "chat sessions kept in the data home", common)
    p = add_command(g, "list", "chats, newest first (--all: also one-off asks)", common, cmd_list)
    p.add_argument("--search", help="only sessions whose title or turns contain this text")
    p.add_argument("--limit", type=int, default=50, help="how many sessions (default 50)")
    p.add_argument("--all", action="store_true", help="also one-off asks (a plain `ask`), not only chats")
    p = add_command(g, "show", "one session's turns", common, cmd_show)
    p.add_argument("id", help="session id or a unique prefix")
    p = add_command(g, "rename", "give a session a title", common, cmd_rename)
    p.add_argument("id", help="session id or a unique prefix")
    p.add_argument("title", help="the new title")
    p = add_command(g, "delete", "delete a session and its turns", common, cmd_delete)
    p.add_argument("id", help="session id or a unique prefix")
    p = add_command(
        g, "attach", "index files into your documents; this chat then answers from them only", common, cmd_attach
    )
    p.add_argument("id", help="session id or a unique prefix")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p = add_command(
        g, "detach", "stop answering this chat from attached files (all, or the ones named)", common, cmd_detach
    )
    p.add_argument("id", help="session id or a unique prefix")
    p.add_argument("paths", nargs="*", metavar="PATH", help="attached files to detach (default: all)")
    p = add_command(g, "export", "write a session as Markdown or JSON", common, cmd_export)
    p.add_argument("id", help="session id or a unique prefix")
    p.add_argument("--format", choices=["md", "json"], default="md", help="Markdown or JSON (default md)")
    p.add_argument("-o", "--out", metavar="FILE", help="write here instead of stdout")


def _session_dict(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "model": s.model,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "turns": s.turns,
        "kind": s.kind,
    }


def _turn_dict(t: Turn) -> dict[str, Any]:
    return {
        "id": t.id,
        "role": t.role,
        "content": t.content,
        "created_at": t.created_at,
        "trace_id": t.trace_id,
        "tokens": t.tokens,
        "meta": t.meta,
    }


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.store.sessions import KINDS

    kinds = KINDS if args.all else ("chat",)
    sessions = ctx.runtime().sessions.list(limit=args.limit, search=args.search, kinds=kinds)
    header = f"{'ID':<12}  {'UPDATED':<16}  {'TURNS':>5}  " + ("KIND  " if args.all else "") + "TITLE"

    def row(s: Session) -> str:
        return f"{s.id}  {_when(s.updated_at)}  {s.turns:>5}  " + (f"{s.kind:<4}  " if args.all else "") + s.title

    ctx.emit(
        [_session_dict(s) for s in sessions],
        lambda: (
            "\n".join([header, *(row(s) for s in sessions)])
            if sessions
            else "no chats yet (a plain `ask` is kept as a one-off: --all lists those; -c continues the latest)"
        ),
    )
    return 0


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.runtime().sessions
    s = store.get(args.id)
    turns = store.turns(s.id)
    attached = store.attachments(s.id)
    ctx.emit(
        {**_session_dict(s), "attachments": attached, "messages": [_turn_dict(t) for t in turns]},
        lambda: "\n\n".join(
            [f"# {s.title or s.id} ({s.id})"]
            + ([f"attached: {', '.join(attached)}"] if attached else [])
            + [f"{t.role}> {t.content}" for t in turns]
        ),
    )
    return 0


def cmd_attach(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    sid = rt.sessions.resolve(args.id)
    lib = rt.documents()
    summary = lib.indexer.add(args.paths).as_dict()
    attached: list[str] = []
    for raw in args.paths:  # only what is in the index now: a skipped file is not attached
        path = str(Path(raw).expanduser().resolve())
        if lib.store.documents(under=path):  # the file itself, or what is indexed below the folder
            attached = rt.sessions.attach(sid, path)
    ctx.emit(
        {"session": sid, "attachments": attached, "indexed": summary},
        lambda: f"{sid}: answers from {', '.join(attached) or 'nothing (no file could be indexed)'}",
    )
    return 0 if attached else 2


def cmd_detach(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.runtime().sessions
    sid = store.resolve(args.id)
    left = store.detach(sid, [str(Path(p).expanduser().resolve()) for p in args.paths])
    ctx.emit({"session": sid, "attachments": left}, f"{sid}: " + (", ".join(left) or "no attachments"))
    return 0


def cmd_rename(args: argparse.Namespace, ctx: Context) -> int:
    s = ctx.runtime().sessions.rename(args.id, args.title)
    ctx.emit(_session_dict(s), f"{s.id}: {s.title}")
    return 0


def cmd_delete(args: argparse.Namespace, ctx: Context) -> int:
    sid = ctx.runtime().sessions.delete(args.id)
    ctx.emit({"deleted": sid}, f"deleted {sid}")
    return 0


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.store.sessions import export_markdown

    store = ctx.runtime().sessions
    s = store.get(args.id)
    turns = store.turns(s.id)
    if args.format == "md":
        body = export_markdown(s, turns)
    else:
        body = json.dumps(
            {**_session_dict(s), "messages": [_turn_dict(t) for t in turns]}, indent=2, ensure_ascii=False
        )
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(body + "\n", encoding="utf-8")
        tmp.replace(out)
        ctx.emit({"session": s.id, "path": str(out), "format": args.format}, f"wrote {out}")
    elif ctx.json and args.format == "md":
        ctx.emit({"session": s.id, "format": "md", "text": body})
    else:
        print(body)
    return 0
