"""docs add | list | remove | reindex | show | search: your documents, indexed for questions."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from edgeprompt.cli import Context
    from edgeprompt.rag.index import IndexSummary, Progress
    from edgeprompt.rag.retrieve import Hit


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "docs", "your documents: index files and folders, search them, ask about them", common)
    p = add_command(g, "add", "index files or folders (only what changed since last time)", common, cmd_add)
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to index")
    p.add_argument("--watch", action="store_true", help="keep re-indexing changes until Ctrl-C")
    add_command(g, "list", "indexed documents", common, cmd_list)
    p = add_command(g, "remove", "forget a file or a folder (the files themselves are left alone)", common, cmd_remove)
    p.add_argument("path", help="a file or folder that was added")
    p = add_command(g, "reindex", "re-check every added file and folder", common, cmd_reindex)
    p.add_argument(
        "--force",
        action="store_true",
        help="re-read and re-chunk every file (stored embeddings of unchanged chunks are still reused)",
    )
    p = add_command(g, "show", "one document: its details and chunks", common, cmd_show)
    p.add_argument("path", help="the document's path")
    p = add_command(
        g, "search", "search your documents (or '-' for JSON Lines of {\"query\": …} on stdin)", common, cmd_search
    )
    p.add_argument("query", help="the text to look for, or - to read JSON Lines from stdin")
    p.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="path=GLOB, type=pdf[,markdown…], after=YYYY-MM-DD, before=YYYY-MM-DD (repeatable)",
    )
    p.add_argument("--include-flagged", action="store_true", help="also show chunks the firewall flagged")


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[Progress], None] | None]:
    """A progress bar with ETA on stderr (rich), only when stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    # bytes, not files: one large file among small ones is most of the work
    bar = Progress(
        TextColumn("indexing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[files]}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[name]}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("index", total=None, name="", files="")
    with bar:
        yield lambda p: bar.update(
            task,
            completed=p.bytes_done,
            total=p.bytes_total or None,
            files=f"file {min(p.done + 1, p.total)}/{p.total}",
            name=Path(p.path).name[:40],
        )


def summary_text(s: IndexSummary) -> str:
    d = s.as_dict()
    lines = [
        f"indexed {d['indexed']}, unchanged {d['unchanged']}, removed {d['removed']}, "
        f"skipped {d['skipped']} · {d['chunks']} chunks ({d['embedded']} embedded, {d['reused']} reused) "
        f"in {d['seconds']:.1f} s"
    ]
    if d["flagged"]:
        lines.append(f"{d['flagged']} document(s) flagged by the firewall: their flagged chunks are never used")
    lines += [f"  skipped {x['path']}: {x['reason']}" for x in d["skipped_files"][:20]]
    if d["skipped"] > 20:
        lines.append(f"  … and {d['skipped'] - 20} more (see --json)")
    return "\n".join(lines)


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    lib = ctx.runtime().documents()
    with progress_bar(True) as bar:
        summary = lib.indexer.add(args.paths, progress=bar)
    ctx.emit(summary.as_dict(), lambda: summary_text(summary))
    if args.watch:
        from edgeprompt.rag.watch import DocumentWatcher

        def report(s: IndexSummary) -> None:
            if ctx.json:
                ctx.line({"event": "update", **s.as_dict()})
            else:
                ctx.info(summary_text(s))

        watcher = DocumentWatcher(
            lib.indexer,
            [Path(p) for p in args.paths],
            on_update=report,
            on_error=lambda e: ctx.info(f"edgeprompt: watch: {e}"),
        )
        ctx.info("watching for changes; Ctrl-C to stop")
        try:
            watcher.run()
        except KeyboardInterrupt:
            pass
        finally:
            watcher.stop()
    return 0


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    lib = ctx.runtime().documents()
    docs = [d.as_dict() for d in lib.store.documents()]
    sources = lib.store.sources()

    def text() -> str:
        if not docs:
            return "no documents yet; add some with `edgeprompt docs add PATH`"
        rows = [f"{'!' if d['flagged'] else ' '} {d['chunks']:>6}  {d['type']:<8} {d['path']}" for d in docs]
        header = f"  {'CHUNKS':>6}  {'TYPE':<8} PATH"
        return "\n".join(
            [
                header,
                *rows,
                f"{len(docs)} documents, {sum(d['chunks'] for d in docs)} chunks"
                + (" (! = flagged by the firewall)" if any(d["flagged"] for d in docs) else ""),
            ]
        )

    ctx.emit({"documents": docs, "sources": sources}, text)
    return 0


def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    n = ctx.runtime().documents().indexer.remove(args.path)
    ctx.emit({"removed": n, "path": str(Path(args.path).expanduser().resolve())}, f"removed {n} document(s)")
    return 0


def cmd_reindex(args: argparse.Namespace, ctx: Context) -> int:
    lib = ctx.runtime().documents()
    with progress_bar(True) as bar:
        summary = lib.indexer.reindex(force=args.force, progress=bar)
    ctx.emit(summary.as_dict(), lambda: summary_text(summary))
    return 0


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.errors import NotFoundError

    lib = ctx.runtime().documents()
    doc = lib.store.document(str(Path(args.path).expanduser().resolve()))
    if doc is None:
        raise NotFoundError(f"not in your documents: {args.path}")
    shown = _shown(ctx)
    chunks = [
        {"id": r[0], "seq": r[1], "context": r[2], "text": shown(r[3])[0], "location": r[4], "flagged": bool(r[5])}
        for r in lib.store.chunks_of(doc.id)
    ]

    def text() -> str:
        head = [f"{doc.path}", f"  title {doc.title} · {doc.kind} · {doc.chunks} chunks · sha256 {doc.sha256[:12]}"]
        head += [f"  FLAGGED: {f.get('where')}: {', '.join(f.get('categories', []))}" for f in doc.findings]
        body = [
            f"[{c['seq']}] {c['location']} · {c['context']}{' (flagged)' if c['flagged'] else ''}\n"
            f"    {c['text'][:160]}"
            for c in chunks
        ]
        return "\n".join(head + body)

    ctx.emit({**doc.as_dict(), "chunk_list": chunks}, text)
    return 0


def _shown(ctx: Context) -> Callable[[str], tuple[str, list[str]]]:
    """The chat's output redaction for document text printed here: a Wi-Fi password the chat hides is not
    printed by `docs search` either (nothing changes with `[firewall] enabled = false`)."""
    rt = ctx.runtime()
    if not rt.settings.get("firewall.enabled"):
        return lambda text: (text, [])
    return rt.firewall().validator().shown


def _hit_dict(h: Hit, shown: Callable[[str], tuple[str, list[str]]]) -> dict[str, Any]:
    text, redacted = shown(h.text)
    return {
        "path": h.path,
        "score": h.score,
        "text": text,
        "location": h.location,
        "relevance": h.relevance,
        "title": h.title,
        "context": h.context,
        "type": h.kind,
        "chunk_id": h.chunk_id,
        "doc_sha256": h.doc_sha256,
        "flagged": h.flagged,
        "redacted": redacted,
    }


def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    from dataclasses import replace

    from edgeprompt.errors import UsageError
    from edgeprompt.rag.retrieve import Filters

    if args.k < 1 or args.k > 100:
        raise UsageError("-k must be between 1 and 100")
    filters = replace(Filters.parse(args.filter), include_flagged=args.include_flagged)
    retriever = ctx.runtime().documents().retriever
    shown = _shown(ctx)
    if args.query == "-":
        return ctx.batch(
            "query",
            lambda rec: {
                "query": rec["query"],
                "hits": [
                    _hit_dict(h, shown) for h in retriever.search(rec["query"], int(rec.get("k", args.k)), filters)
                ],
            },
        )
    hits = [_hit_dict(h, shown) for h in retriever.search(args.query, args.k, filters)]

    def text() -> str:
        if not hits:
            return "no matches"
        return "\n".join(
            f"{i}. {h['path']} {h['location']} (relevance {h['relevance']:.2f})"
            f"{' [flagged]' if h['flagged'] else ''}\n   {' '.join(h['text'].split())[:200]}"
            for i, h in enumerate(hits, 1)
        )

    ctx.emit({"query": args.query, "hits": hits}, text)
    return 0
