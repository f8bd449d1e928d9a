"""Coordinator strategies: FedAvg or FedProx on the Message API, or FedAvg under SecAgg+ (legacy workflow).

Both paths record, per round, each node's scalar metrics (its ε, held-out loss and accuracy) and the
errors of nodes that refused (privacy budget, too little data), so the summary can show ε per client.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, FedProx
from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords

# Privacy figures are not averaged: the federation reports the worst (largest) client's.
MAX_KEYS = ("epsilon", "epsilon-round", "epsilon-budget")


@dataclass
class RoundLog:
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def add(self, server_round: int, clients: dict[str, dict[str, float]], errors: dict[str, str]) -> None:
        self.rounds.append({"round": server_round, "replies": len(clients), "clients": clients, "errors": errors})

    def trained_rounds(self) -> int:
        return sum(1 for r in self.rounds if r["replies"])


def aggregate_train_metrics(records: list[RecordDict], weight_key: str) -> MetricRecord:
    out = aggregate_metricrecords(records, weight_key)
    for key in MAX_KEYS:
        values = [float(m[key]) for r in records for m in r.metric_records.values() if key in m]
        if values:
            out[key] = max(values)
    return out


def _scalars(record: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in dict(record).items() if isinstance(v, int | float)}


class _Recording:
    """Mixin for Message-API strategies: log every node's train metrics and errors, then aggregate."""

    log: RoundLog

    def aggregate_train(self, server_round: int, replies: Any) -> Any:
        replies = list(replies)
        clients = {
            str(m.metadata.src_node_id): _scalars(m.content["metrics"])
            for m in replies
            if not m.has_error() and "metrics" in m.content.metric_records
        }
        errors = {str(m.metadata.src_node_id): str(m.error.reason) for m in replies if m.has_error()}
        self.log.add(server_round, clients, errors)
        return super().aggregate_train(server_round, replies)  # type: ignore[misc]


class RecordingFedAvg(_Recording, FedAvg):
    pass


class RecordingFedProx(_Recording, FedProx):
    pass


def train_config(cfg: dict[str, Any], keys: tuple[str, ...]) -> ConfigRecord:
    return ConfigRecord({k: cfg[k] for k in keys})


def run_message_api(grid: Grid, cfg: dict[str, Any], initial: Any, keys: tuple[str, ...]) -> tuple[Any, RoundLog]:
    """FedAvg (or FedProx) via `Strategy.start` from the `initial` torch state dict (a head's weights or an
    adapter's); returns (final state dict, round log)."""
    n = int(cfg["min-nodes"])
    common = {
        "fraction_train": float(cfg["fraction-train"]),
        "fraction_evaluate": float(cfg["fraction-evaluate"]),
        "min_train_nodes": n,
        "min_evaluate_nodes": n,
        "min_available_nodes": n,
        "train_metrics_aggr_fn": aggregate_train_metrics,
    }
    if cfg["strategy"] == "fedprox":
        strategy: Any = RecordingFedProx(proximal_mu=float(cfg["proximal-mu"]), **common)
    elif cfg["strategy"] == "fedavg":
        strategy = RecordingFedAvg(**common)
    else:
        raise ValueError(f"unknown strategy {cfg['strategy']!r} (fedavg, fedprox)")
    strategy.log = RoundLog()
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(initial),
        num_rounds=int(cfg["num-server-rounds"]),
        timeout=float(cfg["round-timeout"]),
        train_config=train_config(cfg, keys),
    )
    state = result.arrays.to_torch_state_dict() if len(result.arrays) else initial
    return state, strategy.log


def run_secagg(
    grid: Grid, context: Context, cfg: dict[str, Any], initial: Any, keys: tuple[str, ...]
) -> tuple[Any, RoundLog]:
    """FedAvg whose sum is computed under SecAgg+ masks: the coordinator never sees one laptop's update."""
    import torch
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.strategy import FedAvg as LegacyFedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    log = RoundLog()
    template = initial

    class Recording(LegacyFedAvg):  # type: ignore[misc]
        def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
            clients = {str(proxy.node_id): _scalars(res.metrics) for proxy, res in results}
            errors = {str(i): repr(f) for i, f in enumerate(failures)}
            log.add(server_round, clients, errors)
            return super().aggregate_fit(server_round, results, failures)

    n = int(cfg["min-nodes"])
    base = {k: cfg[k] for k in keys}
    strategy = Recording(
        fraction_fit=float(cfg["fraction-train"]),
        fraction_evaluate=0.0,
        min_fit_clients=n,
        min_available_clients=n,
        on_fit_config_fn=lambda rnd: {**base, "server-round": rnd},
        initial_parameters=ndarrays_to_parameters([v.numpy() for v in template.values()]),
        fit_metrics_aggregation_fn=lambda pairs: {},
    )
    legacy = LegacyContext(
        context=context,
        strategy=strategy,
        config=ServerConfig(num_rounds=int(cfg["num-server-rounds"]), round_timeout=float(cfg["round-timeout"])),
    )
    workflow = SecAggPlusWorkflow(
        num_shares=float(cfg["secagg-num-shares"]),
        reconstruction_threshold=float(cfg["secagg-reconstruction-threshold"]),
        timeout=float(cfg["round-timeout"]),
    )
    DefaultWorkflow(fit_workflow=workflow)(grid, legacy)
    params = compat.arrayrecord_to_parameters(legacy.state.array_records["parameters"], keep_input=True)
    arrays = parameters_to_ndarrays(params)
    state = OrderedDict((k, torch.from_numpy(a.copy())) for k, a in zip(template, arrays, strict=True))
    return state, log
