"""observe report | export | trace | preferences: what the traces say, offline."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group
from edgeprompt.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from edgeprompt.observatory.report import SINCE_HELP

    g = add_group(sub, "observe", "how well edgeprompt works: metrics, drift, topics, failures, exports", common)
    p = add_command(
        g, "report", "the report over a time range (text, --json, or a self-contained --html page)", common, cmd_report
    )
    p.add_argument("--since", default="7d", help=f"start of the range: {SINCE_HELP} (default 7d)")
    p.add_argument("--html", metavar="FILE", help="also write the report as one HTML page (no network needed)")
    p = add_command(
        g, "export", "write traces as OpenTelemetry OTLP/JSON (no text unless --with-content)", common, cmd_export
    )
    p.add_argument("--otlp-json", required=True, metavar="FILE", help="output file, or - for stdout")
    p.add_argument("--since", default="all", help=f"start of the range: {SINCE_HELP} (default all)")
    p.add_argument(
        "--with-content",
        action="store_true",
        help="include question/answer text, feedback comments and edits where stored",
    )
    p = add_command(g, "trace", "one trace: its stages, attributes, feedback and failure categories", common, cmd_trace)
    p.add_argument("id", help="trace id or a unique prefix")
    p = add_command(
        g,
        "preferences",
        "edited answers as preference pairs (JSON Lines: prompt, chosen, rejected)",
        common,
        cmd_preferences,
    )
    p.add_argument("-o", "--out", metavar="FILE", help="write here instead of stdout")


def _write_atomic(path: Path, text: str) -> None:
    """Write next to the target, then rename: a failed write never leaves half a file."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except PermissionError:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: permission denied") from None


def cmd_report(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.observatory.report import build_report, parse_since, summary_text

    since = parse_since(args.since)
    out = Path(args.html).expanduser() if args.html else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        _write_atomic(out, "")  # the same one-line error, before minutes of work
    rt = ctx.runtime()
    rep = build_report(rt.db, rt.settings.section("observatory"), since)
    if out is not None:
        from edgeprompt.observatory.html import render

        _write_atomic(out, render(rep))
        ctx.info(f"wrote {out}")
    ctx.emit(rep, lambda: summary_text(rep))
    return 0


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.observatory.otlp import export
    from edgeprompt.observatory.report import parse_since

    since = parse_since(args.since)
    rt = ctx.runtime()
    doc = export(rt.db, since, time.time() + 1.0, with_content=args.with_content)
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    traces = sum(1 for s in spans if "parentSpanId" not in s)
    text = json.dumps(doc, ensure_ascii=False, default=str)
    if args.otlp_json == "-":
        print(text)
        return 0
    path = Path(args.otlp_json).expanduser()
    _write_atomic(path, text + "\n")
    ctx.emit(
        {"path": str(path), "traces": traces, "spans": len(spans), "with_content": args.with_content},
        f"wrote {traces} traces ({len(spans)} spans) to {path}",
    )
    return 0


def cmd_trace(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.observatory import failures
    from edgeprompt.observatory.feedbackdata import resolve_trace
    from edgeprompt.observatory.traceset import one
    from edgeprompt.store.feedback import FeedbackStore

    rt = ctx.runtime()
    tid = resolve_trace(rt.db, args.id)
    t, rec = rt.traces.get(tid), one(rt.db, tid)
    if t is None or rec is None:  # pragma: no cover - resolve_trace found it a moment ago
        raise NotFoundError(f"trace '{args.id}'")
    threshold = float(rt.settings.get("observatory.low_confidence_logprob"))
    out = {
        **t,
        "feedback": [f.__dict__ for f in FeedbackStore(rt.db).for_trace(tid)],
        "failures": failures.categorise(rec, threshold),
    }

    def text() -> str:
        lines = [
            f"trace {tid} · {t['model']} · {t['status']} · {t['duration_ms']:.0f} ms · "
            + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t["started_at"]))
        ]
        lines += [f"  {s['name']:<18} {s['duration_ms']:>9.1f} ms" for s in t["spans"]]
        lines.append("failures: " + (", ".join(out["failures"]) or "none"))
        return "\n".join(lines)

    ctx.emit(out, text)
    return 0


def cmd_preferences(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.observatory.feedbackdata import preference_pairs

    rt = ctx.runtime()
    pairs = preference_pairs(rt.db)
    body = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    if args.out:
        path = Path(args.out).expanduser()
        _write_atomic(path, body)
        ctx.emit({"path": str(path), "pairs": len(pairs)}, f"wrote {len(pairs)} preference pairs to {path}")
    else:
        print(body, end="")
    return 0
