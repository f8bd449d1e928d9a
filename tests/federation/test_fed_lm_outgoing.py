"""lm-lora: every reply the ClientApp sends holds the LoRA adapter's arrays and scalar metrics, nothing else.

The ClientApp is called as a SuperNode calls it; the reply is checked record by record against the twin's
adapter (names, shapes, float32), and its serialized bytes are searched for the laptop's questions and
answers and for their token ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edgefed import client_app, lm_task
from fed_helpers import context, instruction, set_budget

from edgeprompt.app import Runtime
from edgeprompt.federation import lmdata, lora
from edgeprompt.federation.ledger import PrivacyLedger


@pytest.fixture
def adapter(tiny_model: Any, lm_config: dict[str, Any]) -> dict[str, Any]:
    """Round 0's adapter as the coordinator makes it."""
    return lora.adapter_state(lora.twin(tiny_model.hf, lora.LoraSpec.from_config(lm_config), seed=3))


def lm_message(adapter: dict[str, Any], cfg: dict[str, Any], message_type: str = "train") -> Any:
    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    config = {**{k: cfg[k] for k in lm_task.TRAIN_KEYS}, "server-round": int(cfg.get("server-round", 1))}
    return instruction(RecordDict({"arrays": ArrayRecord(adapter), "config": ConfigRecord(config)}), message_type)


def serialized(content: Any) -> bytes:
    from flwr.common.serde import recorddict_to_proto

    return bytes(recorddict_to_proto(content).SerializeToString())


def test_train_reply_is_the_adapter_and_scalars_only(
    lm_home: Path, lm_config: dict[str, Any], adapter: Any, tiny_model: Any
) -> None:
    from flwr.app import ArrayRecord, MetricRecord

    reply = client_app.app(lm_message(adapter, lm_config), context(lm_home))
    assert not reply.has_error(), reply.error.reason if reply.has_error() else ""
    content = reply.content
    assert set(content.keys()) == {"arrays", "metrics"} and not content.config_records
    arrays = content["arrays"]
    assert isinstance(arrays, ArrayRecord)
    assert {k: tuple(a.shape) for k, a in arrays.items()} == {k: tuple(v.shape) for k, v in adapter.items()}
    assert all(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in arrays)  # no base weight, no embedding
    assert {a.dtype for a in arrays.values()} == {"float32"}
    metrics = content["metrics"]
    assert isinstance(metrics, MetricRecord) and all(type(v) in (int, float) for v in metrics.values())
    assert {"num-examples", "epsilon", "epsilon-round", "loss", "global-loss", "num-thumbs", "num-edits"} <= set(
        metrics
    )
    wire_bytes = serialized(content)
    with Runtime.open(lm_home) as rt:
        examples = lmdata.chosen_examples(rt.db)
        ledger = PrivacyLedger(rt.db).entries(lm_task.ledger_key("tiny"))
    for ex in examples:  # no question, no answer, no distinctive piece of one
        for text in (ex.prompt, ex.answer, ex.answer[-20:]):
            assert text.encode() not in wire_bytes
    ids, _ = lora.encode(tiny_model.hf, examples, 128)
    for row in ids[:5]:  # nor the token ids the model trained on, in any integer width
        tokens = row[row != 0][8:24]
        for dtype in ("<i8", "<i4", "<i2"):
            assert tokens.astype(dtype).tobytes() not in wire_bytes
    assert [e.epsilon_total for e in ledger] == [metrics["epsilon"]] and 0 < metrics["epsilon"] <= 8.0
    audit = [json.loads(line) for line in (lm_home / "federation" / "outgoing.jsonl").read_text().splitlines()]
    assert audit[-1]["bytes"] == len(wire_bytes)
    assert set(audit[-1]["records"]["arrays"]["arrays"]) == set(adapter)


def test_a_laptop_with_other_weights_refuses(lm_home: Path, lm_config: dict[str, Any], adapter: Any) -> None:
    reply = client_app.app(lm_message(adapter, {**lm_config, "lm-fingerprint": "0" * 24}), context(lm_home))
    assert reply.has_error() and reply.error.code == client_app.BAD_INSTRUCTION
    assert "not the coordinator's base model" in reply.error.reason and not reply.has_content()
    with Runtime.open(lm_home) as rt:
        assert not PrivacyLedger(rt.db).entries(lm_task.ledger_key("tiny"))


def test_a_model_the_laptop_lacks_or_too_few_answers_sends_nothing(
    data_home: Path, lm_config: dict[str, Any], adapter: Any, tiny_model: Any
) -> None:
    reply = client_app.app(lm_message(adapter, lm_config), context(data_home))
    assert reply.has_error() and "Unknown model 'tiny'" in reply.error.reason
    with Runtime.open(data_home) as rt:
        rt.catalog.add(tiny_model.card)
    reply = client_app.app(lm_message(adapter, lm_config), context(data_home))
    assert reply.has_error() and reply.error.code == client_app.REFUSED_DATA
    assert "thumbed-up or edited answers" in reply.error.reason


def test_rounds_spend_the_budget_then_refuse(lm_home: Path, lm_config: dict[str, Any], adapter: Any) -> None:
    set_budget(lm_home, 5.0)
    replies = [
        client_app.app(lm_message(adapter, {**lm_config, "server-round": r}), context(lm_home)) for r in (1, 2, 3)
    ]
    eps = [dict(r.content["metrics"])["epsilon"] for r in replies if not r.has_error()]
    assert len(eps) in (1, 2) and eps == sorted(eps) and max(eps) <= 5.0
    refused = replies[len(eps)]
    assert refused.has_error() and refused.error.code == client_app.REFUSED_BUDGET and not refused.has_content()
    with Runtime.open(lm_home) as rt:
        assert PrivacyLedger(rt.db).spent(lm_task.ledger_key("tiny"), 1e-5) <= 5.0


def test_evaluate_reply_is_one_loss(lm_home: Path, lm_config: dict[str, Any], adapter: Any) -> None:
    reply = client_app.app(lm_message(adapter, lm_config, "evaluate"), context(lm_home))
    metrics = dict(reply.content["metrics"])
    assert set(reply.content.keys()) == {"metrics"} and set(metrics) == {"loss", "num-examples"}
    assert np.isfinite(metrics["loss"]) and metrics["num-examples"] > 0


def test_secagg_format_reply_is_the_adapter_too(lm_home: Path, lm_config: dict[str, Any], adapter: Any) -> None:
    """Under SecAgg+ (legacy `fitins.*`), the reply is a `fitres` of the adapter's arrays, in its order."""
    from flwr.common import Code, FitIns, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat

    params = ndarrays_to_parameters([v.numpy() for v in adapter.values()])
    config = {**{k: lm_config[k] for k in lm_task.TRAIN_KEYS}, "server-round": 1}
    reply = client_app.app(
        instruction(compat.fitins_to_recorddict(FitIns(params, config), keep_input=True)), context(lm_home)
    )
    fitres = compat.recorddict_to_fitres(reply.content, keep_input=True)
    assert fitres.status.code == Code.OK
    assert [a.shape for a in parameters_to_ndarrays(fitres.parameters)] == [tuple(v.shape) for v in adapter.values()]
