"""feedback TRACE_ID up|down [--comment] · feedback TRACE_ID --edit TEXT | --edit-file FILE."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.cli import Context
    from edgeprompt.store.feedback import Feedback

MAX_EDIT_CHARS = 100_000  # like a question: larger edits are pastes of something else, not corrections


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub, "feedback", "rate an answer (up/down) or keep your corrected version of it", common, cmd_feedback
    )
    p.add_argument("trace_id", metavar="TRACE_ID", help="the answer's trace id (`ask --json` shows it) or a prefix")
    p.add_argument("verdict", nargs="?", choices=["up", "down"], help="thumbs up or down")
    p.add_argument("--comment", help="why (kept locally; exported only with --with-content)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--edit", metavar="TEXT", help="your corrected answer; kept with the original as a preference pair")
    g.add_argument("--edit-file", metavar="FILE", help="the corrected answer from a file (- for stdin)")
    p.add_argument(
        "--original", metavar="TEXT", help="the answer you edited, when edgeprompt did not keep it (ask --no-save)"
    )


def _edited_text(args: argparse.Namespace) -> str | None:
    text: str
    if args.edit is not None:
        text = args.edit
    elif args.edit_file is not None:
        if args.edit_file == "-":
            text = sys.stdin.read()
        else:
            path = Path(args.edit_file).expanduser()
            if not path.is_file():
                raise UsageError(f"--edit-file {path}: no such file")
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"--edit-file {path}: not UTF-8 text") from None
    else:
        return None
    if not text.strip():
        raise UsageError("the edited answer is empty")
    if len(text) > MAX_EDIT_CHARS:
        raise UsageError(f"the edited answer has {len(text)} characters; the limit is {MAX_EDIT_CHARS}")
    return text


def _as_dict(f: Feedback) -> dict[str, Any]:
    """Shaped like an OpenTelemetry gen_ai.evaluation.result event."""
    out: dict[str, Any] = {
        "id": f.id,
        "trace_id": f.trace_id,
        "kind": f.kind,
        "created_at": f.created_at,
        "event": "gen_ai.evaluation.result",
        "gen_ai.evaluation.name": "user_feedback" if f.kind == "thumbs" else "user_edit",
    }
    if f.kind == "thumbs":
        out.update(
            {
                "gen_ai.evaluation.score.value": f.score,
                "gen_ai.evaluation.score.label": "up" if (f.score or 0) > 0 else "down",
            }
        )
    else:
        out["edit_distance"] = f.edit_distance
    if f.comment:
        out["gen_ai.evaluation.explanation"] = f.comment
    return out


def cmd_feedback(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.observatory.feedbackdata import exchange, resolve_trace
    from edgeprompt.store.feedback import FeedbackStore

    edited = _edited_text(args)
    if edited is None and args.verdict is None:
        raise UsageError("say up or down, or give --edit TEXT / --edit-file FILE")
    if args.original is not None and edited is None:
        raise UsageError("--original goes with --edit or --edit-file")
    rt = ctx.runtime()
    tid = resolve_trace(rt.db, args.trace_id)
    store = FeedbackStore(rt.db)
    original = args.original
    if edited is not None and original is None:
        original = exchange(rt.db, tid)[1]
        if original is None:
            raise UsageError(
                f"the answer of trace {tid[:12]} was not kept (asked with --no-save and content "
                "capture off); give it with --original TEXT"
            )
    saved = []
    if args.verdict is not None:
        saved.append(store.thumbs(tid, args.verdict == "up", args.comment))
    if edited is not None:
        saved.append(store.edit(tid, original or "", edited, None if args.verdict else args.comment))
    out = [_as_dict(f) for f in saved]
    ctx.emit(out[0] if len(out) == 1 else out, lambda: "\n".join(_line(f) for f in saved))
    return 0


def _line(f: Feedback) -> str:
    what = (
        f"thumbs {'up' if (f.score or 0) > 0 else 'down'}"
        if f.kind == "thumbs"
        else f"edit (distance {f.edit_distance})"
    )
    return f"recorded {what} for trace {f.trace_id[:12]}"
