"""The ServerApp (coordinator): run the rounds, then publish the aggregated model as a signed pack.

It never sees data: only each laptop's DP-noised weights (or, with SecAgg+, only their masked sum)
and scalar metrics. It writes into the run's output folder: `summary.json` (per-round metrics, ε per
client), `classifier.onnx`/`classifier.json`, and `<task>-model.pack` signed with the coordinator key.
For `task = "lm-lora"` the model is a LoRA adapter of the laptops' language model: round 0 is a fresh
adapter on the coordinator's copy of the base (`lm-base`), and the pack is `lm-lora-<model>.pack`
(kind `lm-adapter`, peft files) with `adapter/` beside it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from edgefed import lm_task, publish, strategies, task

app = ServerApp()


def _epsilons(log: strategies.RoundLog) -> dict[str, float]:
    """The last ε each node reported (its ledger's running total for this model)."""
    out: dict[str, float] = {}
    for r in log.rounds:
        for node, metrics in r["clients"].items():
            if "epsilon" in metrics:
                out[node] = metrics["epsilon"]
    return out


def summarize(cfg: dict[str, Any], run_id: int, log: strategies.RoundLog, wall_s: float) -> dict[str, Any]:
    eps = _epsilons(log)
    is_lm = cfg["task"] == lm_task.TASK
    dp_keys = lm_task.DP_KEYS if is_lm else task.DP_KEYS
    last = next((r for r in reversed(log.rounds) if r["replies"]), None)
    lm = {"lm_model": cfg["lm-model"], "base_fingerprint": cfg.get("lm-fingerprint")} if is_lm else {}
    return {
        **lm,
        "run_id": run_id,
        "task": cfg["task"],
        "rounds": int(cfg["num-server-rounds"]),
        "rounds_trained": log.trained_rounds(),
        "strategy": cfg["strategy"],
        "secagg": bool(cfg["secagg"]),
        "clients": len({n for r in log.rounds for n in r["clients"]}),
        "epsilon": eps,
        "epsilon_max": max(eps.values()) if eps else None,
        "dp": {k: cfg[k] for k in dp_keys},
        "last_round": last,
        "history": log.rounds,
        "wall_s": wall_s,
    }


def _rounds(
    grid: Grid, context: Context, cfg: dict[str, Any], initial: Any, keys: tuple[str, ...]
) -> tuple[Any, strategies.RoundLog]:
    if cfg["secagg"]:
        return strategies.run_secagg(grid, context, cfg, initial, keys)
    return strategies.run_message_api(grid, cfg, initial, keys)


def _publish(
    cfg: dict[str, Any],
    context: Context,
    log: strategies.RoundLog,
    t0: float,
    write: Callable[[dict[str, Any], Path], dict[str, Any]],
) -> None:
    """summary.json, then (if any laptop trained) the signed pack `write` makes from the provenance."""
    folder = publish.out_dir(cfg, context.run_id)
    summary = summarize(cfg, context.run_id, log, time.time() - t0)
    (folder / "summary.json").write_text(json.dumps(publish.clean(summary), indent=2) + "\n")
    if not log.trained_rounds():
        # every laptop refused or failed: publishing the initial weights would pretend to be a trained model
        raise RuntimeError(f"no client trained in any round; see {folder / 'summary.json'}")
    trained = {
        "by": "edgeprompt federation",
        "run_id": context.run_id,
        "rounds": log.trained_rounds(),
        "clients": summary["clients"],
        "epsilon_max": summary["epsilon_max"],
        "strategy": cfg["strategy"],
        "secagg": bool(cfg["secagg"]),
        "dp": summary["dp"],
        "metrics": (summary["last_round"] or {}).get("clients", {}),
    }
    summary["published"] = write(trained, folder)
    summary["wall_s"] = time.time() - t0
    (folder / "summary.json").write_text(json.dumps(publish.clean(summary), indent=2) + "\n")


def _main_lm(grid: Grid, context: Context, cfg: dict[str, Any], t0: float) -> None:
    """Federated LoRA: FedAvg over adapters (the only arrays laptops send), published as an lm-adapter pack."""
    from edgeprompt.federation import lora

    if not cfg["lm-base"]:
        raise ValueError("task lm-lora needs lm-base: the coordinator's copy of the model's Hugging Face folder")
    hf = Path(str(cfg["lm-base"])).expanduser()
    cfg = {**cfg, "lm-fingerprint": lora.fingerprint(hf)}  # laptops with other weights refuse the round
    model = lora.twin(hf, lora.LoraSpec.from_config(cfg), seed=int(cfg["seed"]))
    state, log = _rounds(grid, context, cfg, lora.adapter_state(model), lm_task.TRAIN_KEYS)
    lora.load_adapter_state(model, state)
    _publish(cfg, context, log, t0, lambda trained, folder: publish.write_adapter_pack(model, cfg, trained, folder))


@app.main()
def main(grid: Grid, context: Context) -> None:
    from edgeprompt.federation.heads import head_spec

    t0 = time.time()
    task.set_threads()
    cfg = task.run_config(context.run_config)
    if cfg["task"] == lm_task.TASK:
        _main_lm(grid, context, cfg, t0)
        return
    spec = head_spec(str(cfg["task"]))
    model = task.initial_model(spec, cfg)
    state, log = _rounds(grid, context, cfg, model.state_dict(), task.TRAIN_KEYS)
    if log.trained_rounds():
        task.load_state(model, state)
    _publish(cfg, context, log, t0, lambda trained, folder: publish.write_pack(spec, model, cfg, trained, folder))
