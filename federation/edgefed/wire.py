"""What travels: unpack the coordinator's instruction, pack the reply (weights + scalar metrics only).

Two formats arrive at the train function. The Message API (FedAvg/FedProx `Strategy.start`) sends
`{"arrays": ArrayRecord, "config": ConfigRecord}` and gets `{"arrays": ArrayRecord, "metrics":
MetricRecord}` back. SecAgg+ only exists in Flower's legacy workflow, which sends `fitins.*` records
and expects a `fitres.*` reply that `secaggplus_mod` then masks before it leaves the laptop.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp.typing import ClientAppCallable

SIM_HOMES_ENV = "EDGEPROMPT_SIM_HOMES"

LEGACY_ARRAYS = "fitins.parameters"


def is_legacy(msg: Message) -> bool:
    return LEGACY_ARRAYS in msg.content.array_records


def unpack(msg: Message, template: OrderedDict[str, Any]) -> tuple[OrderedDict[str, Any], dict[str, Any]]:
    """(state dict shaped like `template`, config) from either format."""
    import torch

    if is_legacy(msg):
        from flwr.common import parameters_to_ndarrays
        from flwr.compat.common import recorddict_compat as compat

        fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
        arrays = parameters_to_ndarrays(fitins.parameters)
        if len(arrays) != len(template):
            raise ValueError(f"received {len(arrays)} arrays for a model with {len(template)}")
        state = OrderedDict((k, torch.from_numpy(a.copy())) for k, a in zip(template, arrays, strict=True))
        return state, dict(fitins.config)
    state = msg.content["arrays"].to_torch_state_dict()
    config = dict(msg.content["config"]) if "config" in msg.content.config_records else {}
    return state, config


def reply(msg: Message, state: OrderedDict[str, Any], metrics: dict[str, float | int], num_examples: int) -> Message:
    """The only thing a laptop sends back after training: the model's arrays and scalar metrics."""
    if is_legacy(msg):
        from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
        from flwr.compat.common import recorddict_compat as compat

        params = ndarrays_to_parameters([v.detach().cpu().numpy() for v in state.values()])
        fitres = FitRes(Status(Code.OK, "ok"), params, num_examples, dict(metrics))
        return Message(compat.fitres_to_recorddict(fitres, keep_input=True), reply_to=msg)
    content = RecordDict(
        {"arrays": ArrayRecord(state), "metrics": MetricRecord({**metrics, "num-examples": num_examples})}
    )
    return Message(content=content, reply_to=msg)


def metrics_reply(msg: Message, metrics: dict[str, float | int]) -> Message:
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)


def secagg_when_asked(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Apply Flower's `secaggplus_mod` only to SecAgg+ rounds; plain FedAvg rounds pass straight through."""
    from flwr.client.mod import secaggplus_mod
    from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS

    if RECORD_KEY_CONFIGS in msg.content.config_records:
        return secaggplus_mod(msg, context, call_next)
    return call_next(msg, context)


def manifest(content: RecordDict) -> dict[str, Any]:
    """What a reply holds, as the user may read it: record kinds, array names/shapes/dtypes, metric values,
    config keys (SecAgg+ masked vectors and keys), and the size and hash of the serialized bytes."""
    from flwr.common.serde import recorddict_to_proto

    out: dict[str, Any] = {}
    for name, record in content.items():
        if isinstance(record, ArrayRecord):
            out[name] = {
                "kind": "arrays",
                "arrays": {k: {"shape": list(a.shape), "dtype": a.dtype} for k, a in record.items()},
            }
        elif isinstance(record, MetricRecord):
            out[name] = {"kind": "metrics", "values": dict(record)}
        else:
            out[name] = {"kind": "config", "keys": sorted(record)}
    data = recorddict_to_proto(content).SerializeToString()
    return {"records": out, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def data_home(context: Context) -> str | None:
    """The laptop's data home: `data-home` in the node config (a SuperNode's); on the Simulation Engine,
    whose virtual nodes carry only `partition-id`, the partition's entry of `sim-homes` (run config, else
    $EDGEPROMPT_SIM_HOMES; paths joined by os.pathsep). None: $EDGEPROMPT_HOME or the user's data home."""
    from edgeprompt.errors import FederationError

    home = context.node_config.get("data-home")
    if home:
        return str(home)
    if "partition-id" not in context.node_config:
        return None
    raw = str(context.run_config.get("sim-homes") or os.environ.get(SIM_HOMES_ENV, ""))
    homes = [h for h in raw.split(os.pathsep) if h]
    part, parts = int(context.node_config["partition-id"]), int(context.node_config.get("num-partitions", 1))
    if not homes and parts == 1:
        return None
    if len(homes) != parts:
        raise FederationError(
            f"simulation with {parts} nodes needs {parts} data homes in sim-homes or "
            f"${SIM_HOMES_ENV} (got {len(homes)})"
        )
    return homes[part]


def audit_log_path(context: Context) -> Path | None:
    """None where the node has no data home to name (the ClientApp already refused for that reason)."""
    from edgeprompt.errors import FederationError
    from edgeprompt.paths import resolve_home

    try:
        return resolve_home(data_home(context)) / "federation" / "outgoing.jsonl"
    except FederationError:
        return None


def audit_outgoing(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Outermost mod: append a manifest of every reply this laptop sends to `<data home>/federation/
    outgoing.jsonl`, after any SecAgg+ masking, so the user can check what left the machine."""
    out = call_next(msg, context)
    path = audit_log_path(context)
    if path is not None:
        entry = {
            "at": time.time(),
            "run_id": context.run_id,
            "type": out.metadata.message_type,
            "error": out.error.reason if out.has_error() else None,
            **(manifest(out.content) if out.has_content() else {}),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=str) + "\n")
    return out
