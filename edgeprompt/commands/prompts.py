"""prompts push | list | show | history | diff | render | test | promote | rollback | protect | unprotect |
export | import | stats | ab start | ab status | ab stop."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.cli import Context
    from edgeprompt.prompts.labels import Move
    from edgeprompt.prompts.store import PromptRegistry


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "prompts", "the prompt registry: versions, labels, tests, promotion, A/B", common)
    p = add_command(
        g, "push", "store a prompt file (YAML) as a new version, or find the identical one", common, cmd_push
    )
    p.add_argument("file", type=Path, help="the prompt file (YAML)")
    p.add_argument("--message", default=None, help="what changed (default: the file's `message`)")
    p.add_argument("--author", default=None, help="who changed it (default: the file's `author`, else $USER)")
    add_command(g, "list", "every prompt with its version count and labels", common, cmd_list)
    p = add_command(g, "show", "one version: NAME (production), NAME:LABEL or NAME@VERSION", common, cmd_show)
    p.add_argument("ref", help="NAME, NAME:LABEL or NAME@VERSION")
    p = add_command(g, "history", "a prompt's versions and label moves", common, cmd_history)
    p.add_argument("name", help="the prompt's name")
    p = add_command(g, "diff", "what changed between two versions (number, id prefix or label)", common, cmd_diff)
    p.add_argument("name", help="the prompt's name")
    p.add_argument("a", help="the older version: number, id prefix or label")
    p.add_argument("b", help="the newer version: number, id prefix or label")
    p = add_command(g, "render", "render a version with variables, without a model", common, cmd_render)
    p.add_argument("ref", help="NAME, NAME:LABEL or NAME@VERSION")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a variable (VALUE parsed as JSON when it is JSON, else taken as a string)",
    )
    p = add_command(g, "test", "run a version's test suite through a model", common, cmd_test)
    p.add_argument("ref", help="NAME (newest version), NAME@VERSION or NAME:LABEL")
    p.add_argument("-m", "--model", help="model id (default: the default model)")
    p = add_command(g, "promote", "point a label at a version whose tests pass", common, cmd_promote)
    p.add_argument("name", help="the prompt's name")
    p.add_argument("version", help="version number or id prefix")
    p.add_argument("--to", required=True, metavar="LABEL", dest="label", help="the label to point at it")
    p.add_argument("-m", "--model", help="model the suite must pass on (default: the default model)")
    p.add_argument("--force", action="store_true", help="promote even if tests fail (written to the audit log)")
    _yes(p)
    p = add_command(g, "rollback", "move a label back to where it pointed before", common, cmd_rollback)
    p.add_argument("name", help="the prompt's name")
    p.add_argument("--label", required=True, help="the label to move back")
    _yes(p)
    for name, func, what in (
        ("protect", cmd_protect, "moving it then needs --yes or a signed pack"),
        ("unprotect", cmd_unprotect, "needs --yes"),
    ):
        p = add_command(g, name, f"{name} a label ({what})", common, func)
        p.add_argument("name", help="the prompt's name")
        p.add_argument("--label", required=True, help="the label")
        _yes(p)
    p = add_command(g, "export", "write every prompt to a folder (registry.json + NAME.yaml)", common, cmd_export)
    p.add_argument("dir", type=Path, help="the folder to write")
    p.add_argument("--sign", type=Path, metavar="KEY", help="also write prompts.pack signed with this Ed25519 key")
    p = add_command(g, "import", "read a folder written by export (or of prompt files)", common, cmd_import)
    p.add_argument("dir", type=Path, help="the folder to read")
    p.add_argument("--trust-key", type=Path, metavar="PUB", help="trust this public key first")
    p = add_command(g, "stats", "answers, latency, thumbs-up, edit and failure rates per version", common, cmd_stats)
    p.add_argument("name", help="the prompt's name")
    _register_ab(g, common)


def _register_ab(g: Any, common: argparse.ArgumentParser) -> None:
    ab = add_group(g, "ab", "A/B tests between two versions, by session", common)
    p = add_command(ab, "start", "start routing sessions between two versions", common, cmd_ab_start)
    p.add_argument("name", help="the prompt's name")
    p.add_argument("--a", required=True, metavar="V1", help="version of arm A (number or id prefix)")
    p.add_argument("--b", required=True, metavar="V2", help="version of arm B (number or id prefix)")
    p.add_argument("--split", type=int, default=50, help="percent of sessions that get B (default 50)")
    p.add_argument("--label", default=None, help="the label whose requests are split (default: production)")
    p = add_command(
        ab, "status", "per arm: answers, thumbs-up rate, Wilson 95 %% interval, significance", common, cmd_ab_status
    )
    p.add_argument("name", help="the prompt's name")
    p = add_command(ab, "stop", "end the test and point its label at the winner", common, cmd_ab_stop)
    p.add_argument("name", help="the prompt's name")
    p.add_argument("--winner", required=True, metavar="V", help="the version the label ends on")
    _yes(p)


def _yes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true", help="confirm moving a protected label")


def _registry(ctx: Context) -> PromptRegistry:
    return ctx.runtime().registry()


def _confirmed(args: argparse.Namespace, ctx: Context, reg: PromptRegistry, name: str, label: str) -> bool:
    """--yes, or an interactive yes when the label is protected and a person is at the terminal."""
    if args.yes or label not in reg.labels.protected(name):
        return bool(args.yes)
    if ctx.json or not sys.stdin.isatty():
        return False
    answer = input(f"label '{label}' of '{name}' is protected; move it? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _move_text(m: Move, seq: int) -> str:
    if not m.changed:
        return f"{m.name}:{m.label} already at @{seq} ({m.to_version[:8]})"
    return f"{m.name}:{m.label} -> @{seq} ({m.to_version[:8]}, was {(m.from_version or 'unset')[:8]})"


def cmd_push(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.files import read_file

    spec, meta = read_file(args.file)
    author = args.author or meta.get("author") or getpass.getuser()
    pushed = _registry(ctx).push(spec, author, args.message if args.message is not None else meta.get("message", ""))
    ctx.emit(
        pushed.as_dict(),
        f"{pushed.name}@{pushed.seq} {pushed.version} "
        + ("created" if pushed.created else "unchanged (identical content)"),
    )
    return 0


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = _registry(ctx).summary()

    def text() -> str:
        return (
            "\n".join(
                f"{r['name']:<20} {r['versions']:>3} versions  "
                + " ".join(f"{k}=@{v}{'*' if k in r['protected'] else ''}" for k, v in r["labels"].items())
                + (f"  {r['description']}" if r["description"] else "")
                for r in rows
            )
            or "no prompts yet"
        )

    ctx.emit(rows, text)
    return 0


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.files import dump

    reg = _registry(ctx)
    version, label = reg.lookup(args.ref)
    labels = [k for k, v in reg.labels.of(version.name).items() if v == version.id]
    doc = {**version.as_dict(), "label": label, "labels": labels}
    ctx.emit(
        doc,
        lambda: (
            f"# {version.name}@{version.seq} {version.id}  by {version.author}  "
            f"labels: {', '.join(labels) or '-'}\n"
            + (f"# {version.message}\n" if version.message else "")
            + dump(version.spec)
        ),
    )
    return 0


def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    reg = _registry(ctx)
    versions = reg.history(args.name)
    moves = reg.labels.moves(args.name)
    seq = {v.id: v.seq for v in versions}
    doc = {
        "name": args.name,
        "versions": [{k: v for k, v in ver.as_dict().items() if k != "content"} for ver in versions],
        "moves": [m.as_dict() for m in moves],
    }

    def text() -> str:
        lines = [f"@{v.seq:<3} {v.id}  {v.author:<12} {v.message}" for v in versions]
        lines += [
            f"{m.label}: @{seq.get(m.from_version or '', '-')} -> @{seq.get(m.to_version, '?')}  {m.action}"
            + ("  FORCED" if m.forced else "")
            + (f"  signed {m.signed_by}" if m.signed_by else "")
            for m in moves
        ]
        return "\n".join(lines)

    ctx.emit(doc, text)
    return 0


def cmd_diff(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.diff import diff_versions

    done = diff_versions(_registry(ctx), args.name, args.a, args.b)
    ctx.emit(done, done["diff"] or "identical")
    return 0


def _parse_var(text: str) -> tuple[str, Any]:
    key, eq, raw = text.partition("=")
    if not eq or not key:
        raise UsageError(f"--var {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def cmd_render(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.store import parse_ref

    reg = _registry(ctx)
    ref = parse_ref(args.ref)
    reg.require(ref.name)
    fallback = None
    if ref.version is None and ref.label is None and reg.default_label not in reg.labels.of(ref.name):
        # a just-pushed prompt has no label yet: render its newest version and say so
        version, label = reg.latest(ref.name), None
        fallback = (
            f"'{ref.name}' has no '{reg.default_label}' label yet: rendering its latest version "
            f"{ref.name}@{version.seq}"
        )
        ctx.info(fallback)
    else:
        version, label = reg.lookup(ref)
    r = reg.render_version(version, dict(_parse_var(v) for v in args.var), label)
    ctx.emit(
        {
            "name": r.name,
            "version": r.version,
            "seq": r.seq,
            "label": r.label,
            "system": r.system,
            "user": r.user,
            "params": r.params,
            "output_schema": r.output_schema,
            "note": fallback,
        },
        (f"[system]\n{r.system}\n" if r.system else "") + f"[user]\n{r.user}",
    )
    return 0


def _suite_text(s: Any) -> str:
    lines = [f"{s.name}@{s.seq} on {s.model}: {len(s.cases) - s.failed}/{len(s.cases)} passed"]
    for c in s.cases:
        lines.append(f"  {'ok  ' if c.passed else 'FAIL'} {c.index} {c.name}")
        lines += [f"       {f}" for f in c.failures]
    return "\n".join(lines) if s.cases else lines[0] + " (no tests)"


def cmd_test(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.store import parse_ref
    from edgeprompt.prompts.suite import run_suite

    rt = ctx.runtime()
    reg = rt.registry()
    ref = parse_ref(args.ref)
    version = reg.latest(ref.name) if ref.version is None and ref.label is None else reg.lookup(ref)[0]
    suite = run_suite(rt.suite_parts(), reg, version, args.model)
    ctx.emit(suite.as_dict(), lambda: _suite_text(suite))
    return 0 if suite.passed else 1


def cmd_promote(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.suite import promote

    rt = ctx.runtime()
    reg = rt.registry()
    confirmed = _confirmed(args, ctx, reg, args.name, args.label)
    done = promote(rt.suite_parts(), reg, args.name, args.version, args.label, args.model, args.force, confirmed)
    if done.suite is not None and not ctx.json:
        ctx.info(_suite_text(done.suite))
    ctx.emit(
        done.as_dict(), _move_text(done.move, done.seq) + ("  (FORCED past failing tests)" if done.move.forced else "")
    )
    return 0


def cmd_rollback(args: argparse.Namespace, ctx: Context) -> int:
    reg = _registry(ctx)
    move = reg.labels.rollback(args.name, args.label, _confirmed(args, ctx, reg, args.name, args.label))
    seq = reg.get(move.to_version).seq
    ctx.emit({**move.as_dict(), "seq": seq}, _move_text(move, seq))
    return 0


def cmd_protect(args: argparse.Namespace, ctx: Context) -> int:
    reg = _registry(ctx)
    reg.require(args.name)
    changed = reg.labels.protect(args.name, args.label, True)
    ctx.emit(
        {"name": args.name, "label": args.label, "protected": True, "changed": changed},
        f"{args.name}:{args.label} is protected",
    )
    return 0


def cmd_unprotect(args: argparse.Namespace, ctx: Context) -> int:
    reg = _registry(ctx)
    if not _confirmed(args, ctx, reg, args.name, args.label):
        from edgeprompt.errors import ProtectedLabelError

        raise ProtectedLabelError(f"'{args.label}' of '{args.name}'")
    changed = reg.labels.protect(args.name, args.label, False)
    ctx.emit(
        {"name": args.name, "label": args.label, "protected": False, "changed": changed},
        f"{args.name}:{args.label} is no longer protected",
    )
    return 0


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.transfer import export

    done = export(_registry(ctx), args.dir, args.sign)
    ctx.emit(
        done,
        f"wrote {done['prompts']} prompts ({done['versions']} versions) to {done['path']}"
        + (f", signed by {done['key_id']}" if done["signed"] else ""),
    )
    return 0


def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.transfer import import_folder
    from edgeprompt.signing import trust_store

    rt = ctx.runtime()
    trust = trust_store(rt.home)
    if args.trust_key is not None:
        ctx.info(f"trusting key {trust.add_file(args.trust_key)}")
    done = import_folder(rt.registry(), args.dir, trust)
    ctx.emit(
        done,
        lambda: (
            f"imported from {done['source']}: {done['versions_created']} new versions, "
            f"{done['versions_existing']} already here; labels moved: {', '.join(done['labels_moved']) or '-'}"
            + (
                f"; kept (an unsigned import moves no existing label): {', '.join(done['labels_skipped'])}"
                if done["labels_skipped"]
                else ""
            )
        ),
    )
    return 0


def cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.stats import version_stats

    rows = version_stats(_registry(ctx), args.name)

    def fmt(v: Any, pct: bool = False) -> str:
        return "-" if v is None else (f"{v:.0%}" if pct else f"{v:.0f}")

    ctx.emit(
        {"name": args.name, "versions": rows},
        lambda: "\n".join(
            [f"{'ver':<5} {'n':>5} {'p50ms':>7} {'p95ms':>7} {'up':>5} {'edit':>5} {'fail':>5}  labels"]
            + [
                f"@{r['seq']:<4} {r['count']:>5} {fmt(r['latency_p50_ms']):>7} {fmt(r['latency_p95_ms']):>7} "
                f"{fmt(r['thumbs_up_rate'], True):>5} {fmt(r['edit_rate'], True):>5} "
                f"{fmt(r['failure_rate'], True):>5}  " + ",".join(r["labels"])
                for r in rows
            ]
        ),
    )
    return 0


def cmd_ab_start(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.ab import Experiments

    reg = _registry(ctx)
    a, b = reg.resolve(args.name, args.a), reg.resolve(args.name, args.b)
    exp = Experiments(reg.db).start(args.name, args.label or reg.default_label, a.id, b.id, args.split)
    ctx.emit(exp.as_dict(), f"A/B on {args.name}:{exp.label}: A=@{a.seq} B=@{b.seq}, {exp.split}% of sessions get B")
    return 0


def cmd_ab_status(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.ab import Experiments

    exps = Experiments(_registry(ctx).db)
    st = exps.status(exps.latest(args.name))

    def text() -> str:
        state = "running" if st["running"] else "stopped"
        lines = [f"A/B on {args.name}:{st['label']} ({state}), split {st['split']}%"]
        for arm, a in st["arms"].items():
            rate = "-" if a["thumbs_up_rate"] is None else f"{a['thumbs_up_rate']:.1%}"
            lines.append(
                f"  {arm.upper()} {a['version'][:8]}  n={a['n']}  rated={a['rated']}  up={rate}  "
                f"95% [{a['wilson95'][0]:.3f}, {a['wilson95'][1]:.3f}]"
            )
        verdict = (
            f"significant: {st['better'].upper()} is better"
            if st["significant"]
            else "not significant"
            if st["p_value"] is not None
            else "no ratings yet"
        )
        return "\n".join([*lines, f"  p = {st['p_value']}  {verdict}"])

    ctx.emit(st, text)
    return 0


def cmd_ab_stop(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.prompts.ab import Experiments

    reg = _registry(ctx)
    exps = Experiments(reg.db)
    exp = exps.active(args.name)
    if exp is None:
        raise UsageError(f"'{args.name}' has no A/B test running")
    winner = reg.resolve(args.name, args.winner)
    move = exps.stop(exp, winner.id, reg.labels, _confirmed(args, ctx, reg, args.name, exp.label))
    ctx.emit(
        {**move.as_dict(), "experiment": exp.id, "winner": winner.id, "seq": winner.seq},
        "A/B stopped; " + _move_text(move, winner.seq),
    )
    return 0
