"""Command-line interface: argument parsing and output (`--json` everywhere).

This is the only place where errors become exit codes: a domain error prints one line on stderr and
exits 2; Ctrl-C exits 130 after a clean stop. Command groups live in `edgeprompt.commands.*`, each with
a `register(subparsers, common)` function; handlers take `(args, ctx)` and return an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edgeprompt import __version__
from edgeprompt.catalog.extras import missing_extra
from edgeprompt.errors import DiskFullError, EdgepromptError

if TYPE_CHECKING:
    from edgeprompt.app import Runtime

# Command groups, in help order. Each module has register(subparsers, common).
COMMAND_MODULES = (
    "edgeprompt.commands.core",
    "edgeprompt.commands.sessions",
    "edgeprompt.commands.models",
    "edgeprompt.commands.prompts",
    "edgeprompt.commands.docs",
    "edgeprompt.commands.bench",
    "edgeprompt.commands.eval",
    "edgeprompt.commands.observe",
    "edgeprompt.commands.feedback",
    "edgeprompt.commands.federation",
    "edgeprompt.commands.route",
    "edgeprompt.commands.plan",
    "edgeprompt.commands.tools",
    "edgeprompt.commands.cache",
    "edgeprompt.commands.firewall",
    "edgeprompt.commands.backup",
    "edgeprompt.commands.serve",
)


class Context:
    """What a command handler gets besides its arguments: output helpers and a lazily opened runtime."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json = bool(getattr(args, "json", False))
        self._runtime: Runtime | None = None

    @property
    def home(self) -> str | None:
        return getattr(self.args, "home", None)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            from edgeprompt.app import Runtime

            self._runtime = Runtime.open(self.home)
        return self._runtime

    def emit(self, obj: Any, text: str | Callable[[], str] | None = None) -> None:
        """One JSON document with --json, else the human text (or a readable dump of obj)."""
        if self.json:
            print(json.dumps(obj, ensure_ascii=False, default=str), flush=True)
            return
        if callable(text):
            text = text()
        if text is None:
            text = json.dumps(obj, indent=2, ensure_ascii=False, default=str)
        if text:
            print(text, flush=True)

    def line(self, obj: Any) -> None:
        """One JSON Lines record (for `-` batch modes)."""
        print(json.dumps(obj, ensure_ascii=False, default=str), flush=True)

    def batch(self, key: str, handle: Callable[[dict[str, Any]], dict[str, Any]], lines: Any = None) -> int:
        """JSON Lines on stdin (objects with a string `key`) -> one JSON line out per record, one process for
        the whole batch. A malformed line or a domain error in one record becomes `{"error": …}` on its own
        line and the rest go on; the exit code is 2 when any record failed. `lines`: stdin already read."""
        failed = 0
        for _, rec in read_jsonl(sys.stdin if lines is None else lines, key):
            if isinstance(rec, str):
                out: dict[str, Any] = {"error": rec}
            else:
                try:
                    out = handle(rec)
                except EdgepromptError as e:
                    out = {key: rec[key], "error": str(e)}
            failed += "error" in out
            self.line(out)
        return 2 if failed else 0

    def info(self, text: str) -> None:
        """Progress and notes go to stderr so stdout stays clean for pipes."""
        print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def read_jsonl(stream: Any, key: str) -> Any:
    """Yield (line_no, record or error text) for JSON Lines input; records must hold `key`."""
    for n, raw in enumerate(stream, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            yield n, f"line {n}: not JSON ({e.msg})"
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get(key), str):
            yield n, f'line {n}: expected an object with a string "{key}"'
            continue
        yield n, rec


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand accepts after its name, without overriding values given before it."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    p.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="data home (default: $EDGEPROMPT_HOME or the platform's user data dir)",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeprompt", description="An offline, on-device AI assistant. With no command, opens the terminal app."
    )
    parser.add_argument("--version", action="version", version=f"edgeprompt {__version__}")
    parser.add_argument("--json", action="store_true", default=False, help="machine-readable output")
    parser.add_argument(
        "--home",
        default=None,
        metavar="DIR",
        help="data home (default: $EDGEPROMPT_HOME or the platform's user data dir)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_parser()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def _open_app(ctx: Context) -> int:
    from edgeprompt.tui.app import run_app

    return run_app(ctx.home)


def _fail(message: str, code: int) -> int:
    print(f"edgeprompt: {message}", file=sys.stderr, flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    # undecodable bytes on stdin must not crash a batch: they become U+FFFD
    if hasattr(sys.stdin, "reconfigure"):
        with contextlib.suppress(Exception):
            sys.stdin.reconfigure(errors="replace")
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args)
    try:
        if args.command is None:
            return _open_app(ctx)
        handler = getattr(args, "func", None)
        if handler is None:  # a group without its subcommand
            args.parser.print_help()
            return 2
        return int(handler(args, ctx) or 0)
    except EdgepromptError as e:
        return _fail(str(e), e.exit_code)
    except ModuleNotFoundError as e:
        if (hint := missing_extra(e)) is None:
            raise
        return _fail(hint, 2)
    except KeyboardInterrupt:
        return _fail("interrupted; completed turns are saved", 130)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`); silence the flush at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:
        if e.errno == errno.ENOSPC:
            return _fail(str(DiskFullError(getattr(e, "filename", "") or "")), 2)
        return _fail(f"{e.strerror or e}{': ' + str(e.filename) if getattr(e, 'filename', None) else ''}", 2)
    finally:
        with contextlib.suppress(Exception):  # closing must never mask the command's own result
            ctx.close()


if __name__ == "__main__":
    raise SystemExit(main())
