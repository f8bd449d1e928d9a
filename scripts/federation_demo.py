"""Federated fine-tuning, end to end on this machine: a SuperLink and two SuperNodes on 127.0.0.1.

(`--task lm-lora`: LoRA adapters of the language model; see scripts/federation_demo_lm.py.)

Each SuperNode stands for a laptop with its own temporary data home, seeded with a different slice of
labelled examples. The real ClientApp/ServerApp (federation/) run the rounds with Opacus DP-SGD; the
ServerApp publishes a signed model pack, which every laptop verifies and installs. Then, on the union
of the laptops' held-out splits, the installed federated model (ONNX) is compared with models each
laptop trains on its own data alone (same DP-SGD settings and number of epochs). Progress goes to
stderr; with --json the last stdout line is the result object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "federation"
sys.path[:0] = [str(ROOT), str(APP)]

import federation_demo_lm as lm  # noqa: E402
from edgefed import task  # noqa: E402

from edgeprompt.app import Runtime  # noqa: E402
from edgeprompt.federation import seeds  # noqa: E402
from edgeprompt.federation.heads import HeadSpec, head_spec  # noqa: E402
from edgeprompt.federation.ledger import PrivacyLedger  # noqa: E402
from edgeprompt.federation.loopback import Loopback  # noqa: E402
from edgeprompt.federation.packs import install  # noqa: E402
from edgeprompt.signing import trust_store  # noqa: E402

CLIENTS = 2


def say(text: str) -> None:
    print(f"federation-demo: {text}", file=sys.stderr, flush=True)


def seed_homes(base: Path, task_name: str, per_family: int) -> list[Path]:
    homes = [base / f"laptop{i}" for i in range(CLIENTS)]
    for i, home in enumerate(homes):
        with Runtime.open(home) as rt:
            n = seeds.seed(task_name, rt.db, i, per_family)
            if task_name == "router" and i:
                share_embedder(homes[0], home)
        say(f"laptop{i}: {n} labelled {task_name} examples ({seeds.describe(task_name, i)})")
    return homes


def share_embedder(first: Path, other: Path) -> None:
    """The MiniLM export is keyed by the weights' hash: export it once and let the other homes link to it."""
    with Runtime.open(first) as rt:
        rt.embedder()
    target = other / "cache" / "embed"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(first / "cache" / "embed", target_is_directory=True)


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    cfg = {
        "task": args.task,
        "num-server-rounds": args.rounds,
        "min-nodes": CLIENTS,
        "secagg": args.secagg,
        "init": args.init,
        "strategy": args.strategy,
        "proximal-mu": args.mu,
    }
    if args.secagg:
        cfg["secagg-num-shares"] = 1.0
        cfg["secagg-reconstruction-threshold"] = 1.0
    return cfg


def local_data(homes: list[Path], spec: HeadSpec, cfg: dict[str, Any]) -> list[task.LocalData]:
    out = []
    for home in homes:
        with Runtime.open(home) as rt:
            out.append(task.load_local(rt, spec, float(cfg["test-fraction"])))
    return out


def onnx_accuracy(folder: Path, x: Any, y: Any) -> float:
    """Accuracy of an installed classifier.onnx (argmax of its first output, the logits) on (x, y)."""
    import onnxruntime as ort

    desc = json.loads((folder / "classifier.json").read_text())
    session = ort.InferenceSession(str(folder / "classifier.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {desc["input"]: x})[0]
    return float((logits.argmax(1) == y).mean())


def local_baselines(
    spec: HeadSpec, data: list[task.LocalData], cfg: dict[str, Any], rounds: int, x: Any, y: Any
) -> list[float]:
    """Each laptop alone: the same start and DP-SGD, as many epochs as the rounds it trained, on its own
    data only; scored on the union test set."""
    accs = []
    for i, d in enumerate(data):
        model = task.initial_model(spec, cfg)
        task.train_dp(
            model,
            d.x_train,
            d.y_train,
            epochs=rounds * int(cfg["local-epochs"]),
            batch_size=int(cfg["batch-size"]),
            lr=float(cfg["learning-rate"]),
            sigma=float(cfg["noise-multiplier"]),
            max_grad_norm=float(cfg["max-grad-norm"]),
            seed=i,
        )
        accs.append(task.evaluate(model, x, y)[1])
    return accs


def dp_overhead(
    spec: HeadSpec, d: task.LocalData, cfg: dict[str, Any], epochs: int = 3, repeats: int = 5
) -> dict[str, float]:
    """Seconds per epoch of the same loop with and without Opacus (laptop 0's data, 1 thread): runs
    alternate, medians reported, so load from other processes hits both alike."""
    import statistics

    kw = {"epochs": epochs, "batch_size": int(cfg["batch-size"]), "lr": float(cfg["learning-rate"])}
    plain, dp = [], []
    for r in range(repeats):
        plain.append(
            task.train_plain(task.initial_model(spec, cfg), d.x_train, d.y_train, seed=r, **kw).seconds_per_epoch
        )
        dp.append(
            task.train_dp(
                task.initial_model(spec, cfg),
                d.x_train,
                d.y_train,
                seed=r,
                sigma=float(cfg["noise-multiplier"]),
                max_grad_norm=float(cfg["max-grad-norm"]),
                **kw,
            ).seconds_per_epoch
        )
    p, q = statistics.median(plain), statistics.median(dp)
    return {
        "epoch_s_plain": p,
        "epoch_s_dp": q,
        "ratio": q / max(p, 1e-9),
        "examples": d.n_train,
        "epochs": epochs,
        "repeats": repeats,
    }


def federate(
    args: argparse.Namespace, base: Path, homes: list[Path], cfg: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    t0 = time.monotonic()
    with Loopback(base / "flower", homes) as lb:
        say(f"SuperLink on 127.0.0.1:{lb.port}, {CLIENTS} SuperNodes started in {time.monotonic() - t0:.1f}s")
        result = lb.run(APP, cfg, base / "coordinator", timeout_s=args.timeout)
        say(f"run {result.run_id}: {result.status} after {result.wall_s:.1f}s")
        if result.status != "finished:completed":
            raise SystemExit(f"federation-demo: run ended {result.status}: {lb.log_tail()}")
        summary = result.summary()
    return summary, time.monotonic() - t0


def install_everywhere(homes: list[Path], summary: dict[str, Any]) -> None:
    """What each laptop does with the coordinator's pack: trust its key, verify, install."""
    published = summary["published"]
    data = Path(published["pack"]).read_bytes()
    for home in homes:
        with Runtime.open(home) as rt:
            trust = trust_store(rt.home)
            trust.add_file(Path(published["public_key"]), "demo coordinator")
            done = install(rt.paths, rt.db, data, trust)
        say(
            f"{home.name}: installed {done.name} {done.version} into {done.folder}"
            + (f" (ask -m {done.model})" if done.model else "")
        )


def measure(args: argparse.Namespace, spec: HeadSpec, homes: list[Path], summary: dict[str, Any]) -> dict[str, Any]:
    """The Done-when figures: ε per laptop (from its own ledger), union-test accuracy of the installed
    federated model and of each laptop's local-only model, and the DP overhead."""
    import numpy as np

    cfg = task.run_config(run_config(args))
    data = local_data(homes, spec, cfg)
    x = np.concatenate([d.x_test for d in data])
    y = np.concatenate([d.y_test for d in data])
    eps = []
    for home in homes:
        with Runtime.open(home) as rt:
            fed = rt.settings.section("federation")
            eps.append(PrivacyLedger(rt.db).spent(args.task, float(fed["delta"])))
    return {
        "clients": CLIENTS,
        "rounds": args.rounds,
        "epsilon": eps,
        "epsilon_budget": float(fed["epsilon_budget"]),
        "accuracy_local": local_baselines(spec, data, cfg, summary["rounds_trained"], x, y),
        "accuracy_global": onnx_accuracy(spec.folder(homes[0] / "models"), x, y),
        "accuracy_initial": task.evaluate(task.initial_model(spec, cfg), x, y)[1],
        "init": args.init,
        "strategy": args.strategy,
        "task": args.task,
        "delta": float(fed["delta"]),
        "union_test_examples": len(y),
        "rounds_trained": summary["rounds_trained"],
        "secagg": args.secagg,
        "run_id": summary["run_id"],
        "dp_overhead": dp_overhead(spec, data[0], cfg),
    }


def run_head(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    """--task firewall/router: each laptop's own labelled examples, the federated head installed everywhere."""
    spec = head_spec(args.task)
    homes = seed_homes(base, args.task, args.per_family or (120 if args.task == "router" else 60))
    summary, fed_s = federate(args, base, homes, run_config(args))
    install_everywhere(homes, summary)
    result = measure(args, spec, homes, summary)
    result["wall_s"] = {"federated_run": fed_s}
    return result


def report(r: dict[str, Any]) -> str:
    return (
        f"ε per laptop {[round(e, 3) for e in r['epsilon']]} (budget {r['epsilon_budget']:g}); union accuracy: "
        f"start {r['accuracy_initial']:.3f}, federated {r['accuracy_global']:.3f}, local-only "
        f"{[round(a, 3) for a in r['accuracy_local']]}; DP epoch {r['dp_overhead']['ratio']:.1f}x plain"
    )


def run_lm(args: argparse.Namespace, base: Path) -> dict[str, Any]:
    """--task lm-lora: one base model for every laptop, rated and edited answers, federated LoRA, installs."""
    built = lm.build_base(base, args.lm_size)
    homes = lm.seed_homes(base, built, CLIENTS, args.per_laptop)
    summary, fed_s = federate(args, base, homes, lm.run_config(args, built, CLIENTS))
    t0 = time.monotonic()
    install_everywhere(homes, summary)
    install_s = (time.monotonic() - t0) / len(homes)
    result = lm.measure(args, homes, built, summary)
    result["wall_s"] = {"federated_run": fed_s, "import_per_laptop": install_s}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--task", choices=["firewall", "router", "lm-lora"], default="firewall")
    p.add_argument(
        "--per-family",
        type=int,
        help="examples per attack family, topic or route per laptop "
        "(default: 60 firewall, 120 router: 360 per laptop either way)",
    )
    p.add_argument(
        "--init",
        choices=["shipped", "random"],
        default="shipped",
        help="round 0: the head edgeprompt ships, or fresh weights",
    )
    p.add_argument("--strategy", choices=["fedavg", "fedprox"], default="fedavg")
    p.add_argument("--mu", type=float, default=0.0, help="FedProx proximal weight")
    p.add_argument("--secagg", action="store_true", help="aggregate under SecAgg+ masks (slower)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds the federated run may take")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (data homes, logs, pack)")
    p.add_argument("--json", action="store_true", help="print the result object as the last stdout line")
    g = p.add_argument_group("lm-lora (LoRA adapters of the language model)")
    g.add_argument("--lm-size", choices=["demo", "tiny"], default="demo", help="the base model built for the laptops")
    g.add_argument("--per-laptop", type=int, default=48, help="answers each laptop asked, then rated or edited")
    g.add_argument("--sigma", type=float, default=1.5, help="DP-SGD noise multiplier")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    task.set_threads()
    t0 = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="edgeprompt-fed-demo-"))
    try:
        result = run_lm(args, base) if args.task == "lm-lora" else run_head(args, base)
        result["wall_s"]["total"] = time.monotonic() - t0
    finally:
        if args.keep:
            say(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    say(lm.report(result) if args.task == "lm-lora" else report(result))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
