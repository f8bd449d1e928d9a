"""The ServerApp (coordinator): run the rounds, then publish the aggregated head as a signed model pack.

It never sees data: only each laptop's DP-noised weights (or, with SecAgg+, only their masked sum)
and scalar metrics. It writes into the run's output folder: `summary.json` (per-round metrics, ε per
client), `classifier.onnx`/`classifier.json`, and `<task>-model.pack` signed with the coordinator key.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from edgefed import publish, strategies, task

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
    last = next((r for r in reversed(log.rounds) if r["replies"]), None)
    return {
        "run_id": run_id, "task": cfg["task"], "rounds": int(cfg["num-server-rounds"]),
        "rounds_trained": log.trained_rounds(), "strategy": cfg["strategy"], "secagg": bool(cfg["secagg"]),
        "clients": len({n for r in log.rounds for n in r["clients"]}), "epsilon": eps,
        "epsilon_max": max(eps.values()) if eps else None,
        "dp": {k: cfg[k] for k in ("noise-multiplier", "max-grad-norm", "batch-size", "local-epochs",
                                   "learning-rate")},
        "last_round": last, "history": log.rounds, "wall_s": wall_s,
    }


@app.main()
def main(grid: Grid, context: Context) -> None:
    from edgeprompt.federation.heads import head_spec

    t0 = time.time()
    task.set_threads()
    cfg = task.run_config(context.run_config)
    spec = head_spec(str(cfg["task"]))
    model = task.initial_model(spec, cfg)
    if cfg["secagg"]:
        state, log = strategies.run_secagg(grid, context, cfg, model, task.TRAIN_KEYS)
    else:
        state, log = strategies.run_message_api(grid, cfg, model, task.TRAIN_KEYS)
    folder = publish.out_dir(cfg, context.run_id)
    summary = summarize(cfg, context.run_id, log, time.time() - t0)
    (folder / "summary.json").write_text(json.dumps(publish.clean(summary), indent=2) + "\n")
    if not log.trained_rounds():
        # every laptop refused or failed: publishing the initial weights would pretend to be a trained model
        raise RuntimeError(f"no client trained in any round; see {folder / 'summary.json'}")
    task.load_state(model, state)
    trained = {"by": "edgeprompt federation", "run_id": context.run_id, "rounds": log.trained_rounds(),
               "clients": summary["clients"], "epsilon_max": summary["epsilon_max"], "strategy": cfg["strategy"],
               "secagg": bool(cfg["secagg"]), "dp": summary["dp"], "metrics": (summary["last_round"] or {}).get(
                   "clients", {})}
    summary["published"] = publish.write_pack(spec, model, cfg, trained, folder)
    summary["wall_s"] = time.time() - t0
    (folder / "summary.json").write_text(json.dumps(publish.clean(summary), indent=2) + "\n")
