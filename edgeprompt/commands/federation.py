"""federation status | join | leave | import | ledger: this laptop's part in federated fine-tuning."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command, add_group
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.app import Runtime
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = add_group(sub, "federation", "federated fine-tuning with differential privacy (Flower + Opacus)", common)
    add_command(
        g,
        "status",
        "privacy budget spent per model, recent rounds, whether this laptop's node runs",
        common,
        cmd_status,
    )
    p = add_command(g, "join", "start a SuperNode connected to a coordinator (asks for consent)", common, cmd_join)
    p.add_argument("--superlink", required=True, metavar="HOST:PORT", help="the coordinator's Fleet API address")
    p.add_argument("--insecure", action="store_true", help="no TLS (only for a coordinator on this machine)")
    p.add_argument("--root-certificates", metavar="PEM", help="CA certificate to verify the coordinator's TLS")
    p.add_argument("--auth-key", metavar="KEY", help="this node's private key (coordinators that authenticate nodes)")
    p.add_argument("--port", type=int, help="local port for the node's runtime API (default: [federation] setting)")
    p.add_argument("--yes", action="store_true", help="consent without the prompt (scripts)")
    add_command(g, "leave", "stop this laptop's SuperNode", common, cmd_leave)
    p = add_command(g, "import", "verify a signed model pack from the coordinator and install it", common, cmd_import)
    p.add_argument("pack", help="the .pack file written by the coordinator")
    p.add_argument("--trust-key", metavar="PUB", help="trust this public key file (coordinator's .pub) first")
    p.add_argument(
        "--onnx-precision",
        choices=["int4", "int8", "fp32"],
        help="language-model adapters: precision of the rebuilt ONNX model (default: the base model's)",
    )
    p = add_command(g, "ledger", "every DP release this laptop made (one row per round)", common, cmd_ledger)
    p.add_argument("--task", help="only this model (firewall, router, lm-lora:<model id>)")


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.federation.status import status

    rt = ctx.runtime()
    obj = status(rt.db, rt.paths, rt.settings.section("federation"))
    ctx.emit(obj, lambda: _status_text(obj))
    return 0


def _status_text(obj: dict[str, Any]) -> str:
    lines = ["privacy budget (ε spent / budget at δ):"]
    for b in obj["budgets"]:
        bar = "#" * int(20 * min(1.0, b["epsilon"] / b["budget"])) if b["budget"] else ""
        lines.append(
            f"  {b['task']:<9} {b['epsilon']:6.3f} / {b['budget']:g}  [{bar:<20}]  "
            f"{b['releases']} rounds, δ={b['delta']:g}"
        )
    n = obj["node"]
    lines.append(
        f"node: running (pid {n['pid']}, superlink {n['superlink']}, log {n['log']})"
        if n
        else "node: not running (`edgeprompt federation join --superlink HOST:PORT`)"
    )
    lines.append("labelled examples: " + (", ".join(f"{k} {v}" for k, v in obj["examples"].items()) or "none"))
    if obj["events"]:
        lines.append("last rounds:")
        for e in obj["events"]:
            m = e["metrics"]
            shown = " ".join(f"{k}={v:.3g}" for k, v in m.items() if isinstance(v, int | float))
            lines.append(f"  {e['kind']:<9} {e['task']:<9} run {e['run_id'] or '-'} round {e['round'] or '-'}  {shown}")
    return "\n".join(lines)


def _consent(ctx: Context, rt: Runtime, superlink: str, insecure: bool, yes: bool) -> None:
    from edgeprompt.federation.status import consent_text

    text = consent_text(rt.db, rt.home, rt.settings.section("federation"), superlink, insecure)
    if yes:
        ctx.info(text.rstrip())
        return
    if not sys.stdin.isatty():
        raise UsageError("joining needs your consent: run it in a terminal to answer the prompt, or pass --yes")
    ctx.info(text)
    answer = input("Join and train on this laptop's examples? Type 'yes' to agree: ").strip().lower()
    if answer != "yes":
        raise UsageError("not joined: consent was not given")


def cmd_join(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.federation import node

    rt = ctx.runtime()
    node.check_address(args.superlink)
    port = args.port or int(rt.settings.section("federation")["supernode_port"])
    _consent(ctx, rt, args.superlink, args.insecure, args.yes)
    opts = node.NodeOptions(args.superlink, port, args.insecure, args.root_certificates, args.auth_key)
    state = node.start(rt.paths, opts)
    ctx.emit(
        {"joined": True, "pid": state.pid, "superlink": state.superlink, "port": state.port, "log": state.log},
        f"SuperNode started (pid {state.pid}), connected to {state.superlink}; log: {state.log}",
    )
    return 0


def cmd_leave(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.federation import node

    rt = ctx.runtime()
    state = node.stop(rt.paths)
    ctx.emit(
        {"stopped": state is not None, "pid": state.pid if state else None},
        f"SuperNode stopped (pid {state.pid})" if state else "no SuperNode was running",
    )
    return 0


def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.federation.packs import install
    from edgeprompt.signing import read_pack, trust_store

    rt = ctx.runtime()
    path = Path(args.pack)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from e
    trust = trust_store(rt.home)
    if args.trust_key:
        read_pack(data, None)  # a pack that does not verify must not leave its key trusted behind
        kid = trust.add_file(Path(args.trust_key))
        ctx.info(f"trusting key {kid}")
    done = install(rt.paths, rt.db, data, trust, rt.catalog, args.onnx_precision)
    use = f"; ask with -m {done.model}" if done.model else ""
    ctx.emit(done.as_dict(), f"installed {done.name} {done.version} (signed by {done.key_id}) into {done.folder}{use}")
    return 0


def cmd_ledger(args: argparse.Namespace, ctx: Context) -> int:
    from dataclasses import asdict

    from edgeprompt.federation.ledger import PrivacyLedger

    ledger = PrivacyLedger(ctx.runtime().db)
    tasks = [args.task] if args.task else ledger.tasks()
    rows = [asdict(e) for t in tasks for e in ledger.entries(t)]
    ctx.emit(
        {"entries": rows},
        lambda: (
            "\n".join(
                f"{r['task']:<9} run {r['run_id']:<20} round {r['server_round']:<3} σ={r['noise_multiplier']:g} "
                f"q={r['sample_rate']:.4f} steps={r['steps']:<4} ε_round={r['epsilon_round']:.3f} "
                f"ε_total={r['epsilon_total']:.3f} n={r['num_examples']}"
                for r in rows
            )
            or "no releases yet"
        ),
    )
    return 0
