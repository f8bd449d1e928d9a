"""cache: stats, seed, lookup, clear (edgeprompt.cache)."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.cli import Context

LEVEL_CHOICES = ("exact", "semantic", "context", "prefix")
STAT_LEVELS = ("template", *LEVEL_CHOICES)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "cache", "the multi-level answer cache: statistics, pre-warming, explanations, clearing", common)
    add_command(g, "stats", "hits, misses, hit rate, bytes, tokens and seconds saved, per level", common, cmd_stats)
    p = add_command(
        g,
        "seed",
        'pre-warm with known answers: JSON Lines {"query", "answer"} from FILE or - (stdin)',
        common,
        cmd_seed,
    )
    p.add_argument("file", help="a JSON Lines file, or - for stdin")
    p.add_argument("-m", "--model", help="model id (default: the default model)")
    p = add_command(
        g, "lookup", "would this question be answered from the cache, and why (one JSON line each)", common, cmd_lookup
    )
    p.add_argument("text", help='the question, or - for JSON Lines {"query"} on stdin')
    p.add_argument("-m", "--model", help="model id (default: the default model)")
    p = add_command(g, "clear", "drop cached entries (all levels, or one)", common, cmd_clear)
    p.add_argument("--level", choices=LEVEL_CHOICES, help="only this level")


def _stats_text(s: dict[str, Any]) -> str:
    lines = [
        f"{'level':<9} {'hits':>6} {'misses':>7} {'rate':>6} {'vetoes':>7} {'bytes':>10} {'tokens':>8} {'seconds':>8}"
    ]
    for level in STAT_LEVELS:
        r = s[level]
        lines.append(
            f"{level:<9} {r['hits']:>6} {r['misses']:>7} {r['hit_rate']:>6.1%} {r['vetoes']:>7} "
            f"{r.get('bytes', 0):>10} {r['tokens_saved']:>8} {r['seconds_saved']:>8.1f}"
        )
    lines.append(f"semantic threshold {s['semantic']['threshold']:.4f}; {s['exact']['entries']} answers cached")
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    s = rt.cache().stats()
    ctx.emit(s, lambda: _stats_text(s))
    return 0


def _records(source: str, key: str) -> Any:
    """(line, record or error) from a file or stdin; a missing or unreadable file is one clear error."""
    from edgeprompt.cli import read_jsonl

    if source == "-":
        yield from read_jsonl(sys.stdin, key)
        return
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"no such file: {source}")
    try:
        with open(path, encoding="utf-8") as f:
            yield from read_jsonl(f, key)
    except UnicodeDecodeError as e:
        raise UsageError(f"{source} is not UTF-8 text ({e.reason})") from e


def cmd_seed(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.pipeline import query_for_question

    rt = ctx.runtime()
    cache = rt.cache()
    stored = failed = 0
    for n, rec in _records(args.file, "query"):
        if isinstance(rec, str) or not isinstance(rec.get("answer"), str) or not rec["answer"].strip():
            failed += 1
            ctx.info(rec if isinstance(rec, str) else f'line {n}: expected a non-empty string "answer"')
            continue
        q = query_for_question(rt, rec["query"].strip(), args.model)
        kept = cache.store(q, rec["answer"], source="seed")
        if kept.entry_id is None:
            failed += 1
            ctx.info(f"line {n}: not stored: {kept.reason}")
        else:
            stored += 1
    ctx.emit(
        {"stored": stored, "failed": failed}, f"seeded {stored} answers" + (f", {failed} failed" if failed else "")
    )
    return 2 if failed else 0


def cmd_lookup(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.pipeline import query_for_question

    rt = ctx.runtime()
    texts: list[tuple[int, Any]] = list(_records("-", "query")) if args.text == "-" else [(1, {"query": args.text})]
    failed = 0
    for _, rec in texts:
        if isinstance(rec, str):
            failed += 1
            ctx.line({"error": rec})
            continue
        if not rec["query"].strip():
            failed += 1
            ctx.line({"query": rec["query"], "error": "the question is empty"})
            continue
        found = rt.cache().lookup(query_for_question(rt, rec["query"].strip(), args.model), count=False)
        out = {"query": rec["query"], **found.as_dict()}
        if ctx.json or args.text == "-":
            ctx.line(out)
        else:
            ctx.emit(out, functools.partial(_lookup_text, out))
    return 2 if failed else 0


def _lookup_text(r: dict[str, Any]) -> str:
    head = f"{'HIT ' + r['level'] if r['hit'] else 'miss'}  similarity {r['similarity']:.3f}"
    if r["cached_question"]:
        head += f"  cached question: {json.dumps(r['cached_question'], ensure_ascii=False)}"
    lines = [head]
    lines += [f"  {'ok ' if g['pass'] else 'NO '} {k:<10} {g['detail']}" for k, g in r["guards"].items()]
    if r["hit"]:
        lines.append(r["answer"])
    return "\n".join(lines)


def cmd_clear(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    dropped = rt.cache().clear(args.level)
    ctx.emit(
        {"cleared": dropped, "level": args.level or "all"},
        ", ".join(f"{k}: {v} dropped" for k, v in dropped.items()) or "nothing to clear",
    )
    return 0
