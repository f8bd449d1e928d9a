"""firewall scan, check-output, audit (verify, show, export), intel (import, export, list, keygen), feedback."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group
from edgeprompt.errors import UsageError
from edgeprompt.firewall.features import CONTEXTS

if TYPE_CHECKING:
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "firewall", "the prompt firewall: scan inputs, check outputs, audit log, threat intel", common)
    p = add_command(
        g, "scan", "score a text for prompt injection (or '-' for JSON Lines of {\"text\": …})", common, cmd_scan
    )
    p.add_argument("text", help="the text, or - to read JSON Lines from stdin")
    p.add_argument(
        "--context",
        choices=list(CONTEXTS),
        default="user",
        help="user: the user's own turn; document: retrieved text (indirect injection); tool: a tool's output",
    )
    p.add_argument("--no-audit", action="store_true", help="do not record the decisions in the audit log")
    add_command(
        g,
        "status",
        "what guards this home: the classifier's version, training sources and "
        "leave-one-source-out figures, the rule pack, the thresholds",
        common,
        cmd_status,
    )
    p = add_command(
        g,
        "check-output",
        "find PII, secrets and leaks in an answer and redact them (or '-' for JSON Lines of {\"text\": …})",
        common,
        cmd_check_output,
    )
    p.add_argument("text", help="the answer, or - to read JSON Lines from stdin")
    p.add_argument("--canary", help="a canary token that must not appear")
    p.add_argument("--system", metavar="TEXT", help="system prompt text that must not be repeated")
    p.add_argument("--schema", type=Path, metavar="FILE", help="a JSON schema the answer must satisfy")

    a = add_group(g, "audit", "the hash-chained audit log of firewall decisions", common)
    add_command(
        a, "verify", "recompute the chain; names the first bad entry (exit 1 when broken)", common, cmd_audit_verify
    )
    p = add_command(a, "show", "the newest entries", common, cmd_audit_show)
    p.add_argument("--limit", type=int, default=20, help="how many entries (default 20)")
    p.add_argument("--kind", help="only this kind, e.g. firewall.input")
    p = add_command(a, "export", "every entry as JSON Lines (oldest first) to FILE or stdout", common, cmd_audit_export)
    p.add_argument("file", nargs="?", type=Path, help="where to write (default: stdout)")

    i = add_group(g, "intel", "signed threat-intel packs (rule pack, classifier)", common)
    p = add_command(i, "import", "verify a signed pack and install it", common, cmd_intel_import)
    p.add_argument("file", type=Path, help="the signed pack file")
    p.add_argument(
        "--trust-key", type=Path, metavar="PUB", help="trust this public key (kept only if the import succeeds)"
    )
    p = add_command(i, "export", "sign the rule pack or classifier in use into a pack file", common, cmd_intel_export)
    p.add_argument("file", type=Path, help="where to write the pack")
    p.add_argument("--key", type=Path, required=True, metavar="KEY", help="Ed25519 private key (see intel keygen)")
    p.add_argument(
        "--kind", choices=["rules", "model"], default="rules", help="the rule pack or the classifier (default rules)"
    )
    p.add_argument("--name", help="the pack's name (default: the rule pack's own name, or the kind)")
    p.add_argument("--version", help="the pack's version (default: the rule pack's, or the classifier's training date)")
    add_command(i, "list", "installed packs, what is in use, trusted keys", common, cmd_intel_list)
    p = add_command(i, "keygen", "write a new Ed25519 signing key (PATH and PATH.pub)", common, cmd_intel_keygen)
    p.add_argument("path", type=Path, help="private key file to write; the public key goes to PATH.pub")

    p = add_command(
        g,
        "feedback",
        "correct a decision (audit entry number or trace id): stored as labelled local data",
        common,
        cmd_feedback,
    )
    p.add_argument("id", help="audit entry number or trace id")
    label = p.add_mutually_exclusive_group(required=True)
    label.add_argument(
        "--benign",
        dest="label",
        action="store_const",
        const="benign",
        help="the text is harmless: kept as a benign example",
    )
    label.add_argument(
        "--attack",
        dest="label",
        action="store_const",
        const="attack",
        help="the text is an attack: kept as an attack example",
    )


def _verdict_line(v: dict[str, Any]) -> str:
    cats = ",".join(v["categories"]) or "-"
    rules = ",".join(v["matched_rules"]) or "-"
    return f"{v['decision']:<5} score {v['score']:.3f}  categories {cats}  rules {rules}  {v['latency_ms']:.1f} ms"


def cmd_scan(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    fw = rt.firewall()

    def one(text: str, context: str) -> dict[str, Any]:
        v = fw.scan(text, context)
        out = v.as_dict()
        if not args.no_audit:
            out["audit_id"] = fw.record("scan", out, text, None)
        return out

    def line(rec: dict[str, Any]) -> dict[str, Any]:
        context = rec.get("context", args.context)
        if context not in CONTEXTS:
            raise UsageError(f"context must be one of {', '.join(CONTEXTS)}, got {context!r}")
        return one(rec["text"], context)

    if args.text == "-":
        return ctx.batch("text", line)
    if not args.text.strip():
        raise UsageError("the text is empty")
    v = one(args.text, args.context)
    ctx.emit(v, lambda: _verdict_line(v))
    return 0


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.firewall.classifier import Classifier
    from edgeprompt.firewall.rules import load_pack

    rt = ctx.runtime()
    section = rt.settings.section("firewall")
    model = Classifier.load(rt.paths.models).as_dict()
    trained = model.get("trained") or {}
    loso = trained.get("leave_one_source_out") or {}
    rules = load_pack(rt.paths.models).as_dict()
    out: dict[str, Any] = {
        "enabled": bool(section["enabled"]),
        "thresholds": {
            k: section[k]
            for k in ("flag_threshold", "block_threshold", "document_flag_threshold", "document_block_threshold")
        },
        "classifier": {
            "origin": model["origin"],
            "path": model["path"],
            "featurizer": model["featurizer"],
            "version": trained.get("date"),
            "data_sha256": trained.get("data_sha256"),
            "rows": trained.get("rows"),
            "sources": trained.get("sources", {}),
            "leave_one_source_out": loso,
        },
        "rules": {"name": rules["name"], "version": rules["version"], "rules": rules["rules"]},
    }

    def text() -> str:
        c = out["classifier"]
        lines = [
            f"firewall    {'on' if out['enabled'] else 'off'} · flag {section['flag_threshold']} · block "
            f"{section['block_threshold']} (documents {section['document_flag_threshold']} / "
            f"{section['document_block_threshold']})",
            f"classifier  {c['origin']} · {c['featurizer']} · trained {c['version'] or 'unknown'} on "
            f"{c['rows'] or '?'} rows" + (f" from {len(c['sources'])} sources" if c["sources"] else ""),
            f"rule pack   {rules['name']} {rules['version']} · {rules['rules']} rules",
        ]
        if loso:
            lines.append(
                f"leave-one-source-out: mean recall {loso.get('mean_recall')} at mean FPR "
                f"{loso.get('mean_fpr')} over {loso.get('sources')} sources"
            )
            lines += [
                f"  {f['source']:<32} recall {f['recall'] if f['recall'] is not None else '-':<7} "
                f"FPR {f['fpr'] if f['fpr'] is not None else '-'}"
                for f in loso.get("folds", [])
            ]
        return "\n".join(lines)

    ctx.emit(out, text)
    return 0


def _schema(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read the JSON schema {path}: {e}") from e
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise UsageError(f"{path} is not a valid JSON schema: {e.message}") from e
    return dict(schema)


def cmd_check_output(args: argparse.Namespace, ctx: Context) -> int:
    rt = ctx.runtime()
    fw = rt.firewall()
    schema = _schema(args.schema)
    if args.text == "-":
        return ctx.batch(
            "text",
            lambda rec: fw.check_output(
                rec["text"], rec.get("canary", args.canary), rec.get("system", args.system), schema
            ).as_dict(),
        )
    r = fw.check_output(args.text, args.canary, args.system, schema)
    d = r.as_dict()
    ctx.emit(
        d,
        lambda: (
            f"{r.decision}: "
            + (", ".join(f["type"] for f in d["findings"]) or "nothing found")
            + "\n"
            + r.redacted_text
        ),
    )
    return 0


def cmd_audit_verify(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.store.audit import AuditLog

    result = AuditLog(ctx.runtime().db).verify()
    d = result.as_dict()
    ctx.emit(
        d,
        lambda: (
            f"ok: {result.entries} entries, chain intact"
            if result.ok
            else f"BROKEN at entry {result.first_bad}: {result.reason}"
        ),
    )
    return 0 if result.ok else 1


def cmd_audit_show(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.store.audit import AuditLog

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    entries = [asdict(e) for e in AuditLog(ctx.runtime().db).entries(args.limit, args.kind)]

    def text() -> str:
        lines = []
        for e in entries:
            d = e["data"]
            what = (
                f"{d.get('decision', '')} {d.get('score', '')} {','.join(d.get('categories', []))}"
                if "decision" in d
                else json.dumps(d, ensure_ascii=False)[:100]
            )
            lines.append(f"#{e['seq']:<6} {e['kind']:<22} {what}")
        return "\n".join(lines) or "the audit log is empty"

    ctx.emit({"entries": entries}, text)
    return 0


def cmd_audit_export(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.store.audit import AuditLog

    entries = AuditLog(ctx.runtime().db).entries(newest_first=False)
    lines = "".join(json.dumps(asdict(e), ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
    if args.file is None:
        sys.stdout.write(lines)
        sys.stdout.flush()
    else:
        args.file.write_text(lines, encoding="utf-8")
        ctx.info(f"wrote {len(entries)} entries to {args.file}")
    return 0


def cmd_intel_import(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.firewall import intel
    from edgeprompt.signing import TrustStore, trust_store

    rt = ctx.runtime()
    try:
        data = args.file.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {args.file}: {e.strerror}") from e
    trust = trust_store(rt.home)
    if args.trust_key is not None:  # verify against the store plus this key; keep the key only on success
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            staged = TrustStore(Path(tmp))
            for kid in trust.trusted():
                staged.add((trust.folder / f"{kid}.pub").read_text().splitlines()[0])
            staged.add_file(args.trust_key)
            done = intel.install(rt.paths, rt.db, data, staged)
        trust.add_file(args.trust_key)
    else:
        done = intel.install(rt.paths, rt.db, data, trust)
    from edgeprompt.store.audit import AuditLog

    d = done.as_dict()
    AuditLog(rt.db).append("firewall.intel", {"action": "import", **d})
    ctx.emit(d, f"installed {done.kind} {done.name} {done.version} (signed by {done.key_id})")
    return 0


def cmd_intel_export(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.firewall import intel

    rt = ctx.runtime()
    data = intel.export(rt.paths, f"firewall-{args.kind}", args.key, args.name, args.version)
    args.file.write_bytes(data)
    ctx.emit(
        {"file": str(args.file), "kind": f"firewall-{args.kind}", "bytes": len(data)},
        f"wrote {args.file} ({len(data)} bytes)",
    )
    return 0


def cmd_intel_list(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.firewall import intel
    from edgeprompt.firewall.classifier import Classifier
    from edgeprompt.firewall.rules import load_pack
    from edgeprompt.signing import trust_store

    rt = ctx.runtime()
    packs = [p.as_dict() for p in intel.installed(rt.db)]
    rules = load_pack(rt.paths.models).as_dict()
    model = Classifier.load(rt.paths.models).as_dict()
    keys = trust_store(rt.home).trusted()
    out = {"installed": packs, "rules": rules, "classifier": model, "trusted_keys": keys}

    def text() -> str:
        lines = [
            f"rules      {rules['name']} {rules['version']} ({rules['rules']} rules, "
            f"{', '.join(rules['languages'])}) from {rules['source']}",
            f"classifier {model['origin']} {model['path']}",
        ]
        lines += [f"installed  {p['kind']} {p['name']} {p['version']} signed by {p['key_id']}" for p in packs]
        lines.append("trusted keys: " + (", ".join(keys) or "none"))
        return "\n".join(lines)

    ctx.emit(out, text)
    return 0


def cmd_intel_keygen(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.signing import generate_key

    kid = generate_key(args.path)
    ctx.emit(
        {"key_id": kid, "private": str(args.path), "public": f"{args.path}.pub"},
        f"key {kid}: private {args.path}, public {args.path}.pub",
    )
    return 0


def cmd_feedback(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.firewall.corrections import correct

    rt = ctx.runtime()
    c = correct(rt.db, args.id, args.label)
    d = c.as_dict()
    ctx.emit(d, f"stored as a {c.example.label} example (#{c.example.id}); the decision was {c.was}")
    return 0
