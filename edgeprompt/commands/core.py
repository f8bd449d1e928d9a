"""ask, chat, config, doctor, setup."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import GenerationParams
from edgeprompt.commands import add_command, add_group
from edgeprompt.errors import EdgepromptError, UsageError

if TYPE_CHECKING:
    from edgeprompt.app import Runtime
    from edgeprompt.cli import Context
    from edgeprompt.pipeline import AskResult


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        "ask",
        "ask one question; text piped in is what it is about (`cat notes.md | edgeprompt "
        'ask "summarise"`); \'-\' reads the question from stdin (JSON Lines of {"question": …} '
        "when it is that)",
        common,
        cmd_ask,
    )
    p.add_argument("question", help="the question, or - to read it from stdin")
    _model_args(p)
    _session_args(p)
    p.add_argument("--no-save", action="store_true", help="do not keep this exchange, even with -c or --session")

    p = add_command(sub, "chat", "a line-mode chat in the terminal (streaming; /help for commands)", common, cmd_chat)
    _model_args(p)
    _session_args(p)

    g = add_group(sub, "config", "settings (config.toml in the data home)", common)
    add_command(g, "show", "print every setting with its current value", common, cmd_config_show)
    add_command(g, "path", "print where config.toml is", common, cmd_config_path)
    p = add_command(
        g,
        "set",
        "change one setting in config.toml (e.g. `config set generation.max_tokens 512`)",
        common,
        cmd_config_set,
    )
    p.add_argument("key", metavar="SECTION.KEY", help="see `edgeprompt config show`")
    p.add_argument(
        "value", help="the new value: true/false, a number, text, or a list (a TOML array or comma-separated words)"
    )

    add_command(
        sub,
        "doctor",
        "check this machine: SQLite, sqlite-vec, FTS5, MLX, onnxruntime, models, disk",
        common,
        cmd_doctor,
    )
    p = add_command(
        sub, "setup", "prepare the data home: settings, database, demo model, sample documents", common, cmd_setup
    )
    p.add_argument("--quiet-if-ready", action="store_true", help="print nothing when there is nothing to do")
    p.add_argument("--no-demo", action="store_true", help="do not build the demo model")
    p.add_argument("--offline", action="store_true", help="do not offer to download a language model")
    p.add_argument("--model", metavar="REPO_ID", help="download this language model now (see `models recommend`)")


def _session_args(p: argparse.ArgumentParser) -> None:
    # like `llm`: each ask is logged as its own conversation (feedback edits and federated learning read the kept
    # answer), of kind 'ask' so the chat lists do not fill with one-offs; -c or --session continues one instead
    keep = p.add_mutually_exclusive_group()
    keep.add_argument(
        "-c",
        "--continue",
        dest="continue_",
        action="store_true",
        help="continue the most recent chat or one-off ask (starts a chat when there is none)",
    )
    keep.add_argument("--session", metavar="ID", help="continue this chat (id or a unique prefix)")
    p.add_argument("-s", "--system", default="", metavar="TEXT", help="system text added to the prompt's own")


def _session_for(rt: Runtime, args: argparse.Namespace) -> tuple[str | None, bool]:
    """(session to continue, whether to keep the exchange): a plain `ask` is kept in a new session of its own
    (of kind 'ask', out of the chat lists); -c continues the latest session, a chat or an ask."""
    if args.session:
        return rt.sessions.resolve(args.session), True
    if args.continue_:
        from edgeprompt.store.sessions import KINDS

        latest = rt.sessions.list(limit=1, kinds=KINDS)
        return (latest[0].id if latest else None), True
    return None, True


def _new_kind(args: argparse.Namespace) -> str:
    """The kind of a session `ask` starts: a chat under -c (there was none to continue), else a one-off ask."""
    return "chat" if args.continue_ else "ask"


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", help="model id (see `edgeprompt models list`)")
    docs = p.add_mutually_exclusive_group()
    docs.add_argument(
        "--docs",
        dest="use_documents",
        action="store_const",
        const=True,
        default=None,
        help="answer only from your documents (abstain when they do not say)",
    )
    docs.add_argument(
        "--no-docs",
        dest="use_documents",
        action="store_const",
        const=False,
        help="do not search your documents for this question",
    )
    p.add_argument("--backend", choices=["mlx", "onnx"], help="force a backend for a model that has both")
    p.add_argument("--max-tokens", type=int, help="most tokens in the answer")
    p.add_argument("--temperature", type=float, help="0 = greedy")
    p.add_argument("--top-p", type=float, help="nucleus sampling mass in (0, 1], used when temperature > 0")
    p.add_argument("--seed", type=int, help="sampling seed (the same seed repeats a sampled answer)")
    p.add_argument(
        "--prompt",
        metavar="NAME[:LABEL]",
        help="registry prompt to render (default: the assistant prompt, label production)",
    )


def _params(rt: Runtime, args: argparse.Namespace) -> GenerationParams:
    params = GenerationParams.from_settings(
        rt.settings.section("generation"), args.max_tokens, args.temperature, args.top_p, args.seed
    )
    if params.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    if params.temperature < 0 or not 0 < params.top_p <= 1:
        raise UsageError("--temperature must be >= 0 and --top-p in (0, 1]")
    return params


def _overrides(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    """Only the generation flags given on the command line: the prompt version's params fill the rest."""
    _params(rt, args)  # validates them
    given = {"max_tokens": args.max_tokens, "temperature": args.temperature, "top_p": args.top_p, "seed": args.seed}
    return {k: v for k, v in given.items() if v is not None}


def _run(rt: Runtime, req: Any, on_token: Any = None, on_notice: Any = None) -> AskResult:
    from edgeprompt.pipeline import Done, Notice, Token, run

    result = None
    for ev in run(req, rt):
        if isinstance(ev, Token) and on_token:
            on_token(ev.text)
        elif isinstance(ev, Notice) and on_notice:
            on_notice(ev.text)
        elif isinstance(ev, Done):
            result = ev.result
    assert result is not None
    return result


def _footer(result: AskResult) -> str:
    parts = []
    for i, c in enumerate(result.citations, 1):
        where = c.get("location") or ""
        parts.append(f"[{c.get('n', i)}] {c.get('path', '')}{' ' + where if where else ''}")
    meta = f"{result.model} · {result.usage['completion_tokens']} tokens · {result.speed(1)} · " + (
        f"session {result.session_id}" if result.session_id else "not saved (--no-save)"
    )
    return "\n".join([*parts, meta])


def cmd_ask(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.commands.piped import classify, read_stdin, with_context
    from edgeprompt.pipeline import AskRequest

    rt = ctx.runtime()
    overrides = _overrides(rt, args)
    session_id, keep = _session_for(rt, args)
    keep = keep and not args.no_save
    piped = classify(read_stdin(sys.stdin), "question")
    if args.question == "-" and piped.batch:
        return ctx.batch(
            "question",
            lambda rec: _run(
                rt,
                AskRequest(
                    rec["question"],
                    model=rec.get("model", args.model),
                    backend=args.backend,
                    session_id=rec.get("session_id", session_id),
                    overrides=overrides,
                    save=keep or "session_id" in rec,
                    session_kind=_new_kind(args),
                    prompt=rec.get("prompt", args.prompt),
                    system=args.system,
                    use_documents=rec.get("use_documents", args.use_documents),
                ),
            ).as_dict(),
            piped.text.splitlines(),
        )
    if args.question == "-":
        question, use_documents = piped.text, args.use_documents
    else:  # piped text is what the question is about, not a search of the documents (unless --docs)
        question = with_context(args.question, piped.text)
        use_documents = False if piped.text.strip() and args.use_documents is None else args.use_documents
    if not question.strip():
        raise UsageError("the question is empty" + (" (nothing was piped in)" if args.question == "-" else ""))
    req = AskRequest(
        question,
        model=args.model,
        backend=args.backend,
        session_id=session_id,
        overrides=overrides,
        save=keep,
        session_kind=_new_kind(args),
        prompt=args.prompt,
        use_documents=use_documents,
        system=args.system,
    )
    if ctx.json:
        ctx.emit(_run(rt, req).as_dict())
        return 0
    out = sys.stdout
    result = _run(rt, req, on_token=lambda t: (out.write(t), out.flush()), on_notice=ctx.info)
    out.write("\n")
    ctx.info(_footer(result))
    return 0


CHAT_HELP = "/new  start a new session · /session  show its id · /exit  leave (or Ctrl-D) · Ctrl-C stops an answer"


def cmd_chat(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.pipeline import AskRequest

    rt = ctx.runtime()
    overrides = _overrides(rt, args)
    session_id, _ = _session_for(rt, args)
    card = rt.card(args.model)
    ctx.info(f"edgeprompt chat · model {card.id} · {CHAT_HELP}")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            continue
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return 0
        if text == "/help":
            ctx.info(CHAT_HELP)
            continue
        if text == "/new":
            session_id = None
            ctx.info("new session")
            continue
        if text == "/session":
            ctx.info(session_id or "(no session yet)")
            continue
        cancel = threading.Event()
        req = AskRequest(
            text,
            model=args.model,
            backend=args.backend,
            session_id=session_id,
            overrides=overrides,
            cancel=cancel,
            prompt=args.prompt,
            use_documents=args.use_documents,
            system=args.system,
        )
        sys.stdout.write("assistant> ")
        sys.stdout.flush()
        try:
            result = _run(
                rt,
                req,
                on_token=lambda t: (sys.stdout.write(t), sys.stdout.flush()),
                on_notice=lambda n: ctx.info(f"\n({n})"),
            )
            session_id = result.session_id
            print()
            ctx.info(_footer(result))
        except KeyboardInterrupt:
            print()
            ctx.info("(answer stopped)")
        except EdgepromptError as e:
            print()
            ctx.info(f"edgeprompt: {e}")


def cmd_config_show(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt import config as config_mod

    rt = ctx.runtime()
    values = rt.settings.as_dict()

    def text() -> str:
        lines = [f"# {rt.paths.config}"]
        for section, keys in values.items():
            lines.append(f"[{section}]")
            docs = config_mod.DEFAULTS.get(section, {})
            for k, v in keys.items():
                doc = docs.get(k, (None, ""))[1]
                lines.append(f"{k} = {config_mod._toml_value(v)}" + (f"    # {doc}" if doc else ""))
            lines.append("")
        return "\n".join(lines)

    ctx.emit({"path": str(rt.paths.config), "settings": values}, text)
    return 0


def cmd_config_path(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    ctx.emit({"path": str(rt.paths.config)}, str(rt.paths.config))
    return 0


def cmd_config_set(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.config_edit import set_value

    rt = ctx.runtime()
    change = set_value(rt.paths.config, args.key, args.value)
    ctx.emit(
        {
            "path": str(rt.paths.config),
            "section": change.section,
            "key": change.key,
            "old": change.old,
            "value": change.value,
        },
        f"[{change.section}] {change.key} = {change.value!r} (was {change.old!r}) in {rt.paths.config}",
    )
    return 0


def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.doctor import diagnose

    rt = ctx.runtime()
    report = diagnose(rt.db, rt.catalog, rt.home, rt.default_model_id())

    def text() -> str:
        lines = []
        for check in report["checks"]:
            mark = {"ok": "ok ", "warn": "!! ", "fail": "XX "}[check["status"]]
            lines.append(f"{mark} {check['name']:<18} {check['detail']}")
        return "\n".join(lines)

    ctx.emit(report, text)
    return 0 if all(c["status"] != "fail" for c in report["checks"]) else 1


def cmd_setup(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    actions = rt.first_run().prepare(build_demo=not args.no_demo, progress=None if ctx.json else ctx.info)
    done: dict[str, Any] = {"home": str(rt.home), "actions": actions}
    from edgeprompt.commands.models import offer_models

    if (pulled := offer_models(ctx, args.model, offline=args.offline, quiet=args.quiet_if_ready)) is not None:
        done["actions"].append(f"installed the language model {pulled}")
    if ctx.json:
        ctx.emit(done)
    elif done["actions"] or not args.quiet_if_ready:
        ctx.info("ready: " + (", ".join(done["actions"]) if done["actions"] else "nothing to do"))
    return 0
