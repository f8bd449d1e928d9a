"""lm-lora end to end in one process: the real ServerApp and ClientApp, two laptops, two rounds.

Only the transport is replaced (fed_helpers.InProcessGrid calls the ClientApp directly; the loopback
Deployment Engine test covers SuperLink and SuperNodes with the classifier head). Each laptop has the
tiny model and its own rated and edited answers; laptop 1's user set ε ≤ 5. The coordinator aggregates
the adapters with FedAvg and publishes an lm-adapter pack, which a third laptop installs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fed_helpers import InProcessGrid, run_server, set_budget

from edgeprompt.app import Runtime
from edgeprompt.federation import lmseeds, lora
from edgeprompt.federation.ledger import PrivacyLedger


@pytest.fixture(scope="module")
def lm_run(tiny_model: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("lm-run")
    homes = [base / "laptop0", base / "laptop1"]
    for i, home in enumerate(homes):
        with Runtime.open(home) as rt:
            rt.catalog.add(tiny_model.card)
            lmseeds.seed_lm(rt.db, i, n=30, model="tiny")
    set_budget(homes[1], 5.0)
    grid = InProcessGrid(homes)
    run_server(
        grid,
        {
            "task": "lm-lora",
            "lm-model": "tiny",
            "lm-base": str(tiny_model.hf),
            "num-server-rounds": 2,
            "noise-multiplier": 1.5,
            "out-dir": str(base / "coordinator"),
            "signing-key": str(base / "coordinator.key"),
        },
    )
    summary = json.loads((base / "coordinator" / "summary.json").read_text())
    return {"homes": homes, "grid": grid, "summary": summary}


def test_two_rounds_aggregate_adapters_and_publish_a_pack(lm_run: dict[str, Any], tiny_model: Any) -> None:
    s = lm_run["summary"]
    assert s["task"] == "lm-lora" and s["rounds_trained"] == 2 and s["clients"] == 2
    assert s["base_fingerprint"] == lora.fingerprint(tiny_model.hf) and s["lm_model"] == "tiny"
    assert set(s["dp"]) == {"noise-multiplier", "max-grad-norm", "lm-batch-size", "lm-local-epochs", "lm-learning-rate"}
    pack = Path(s["published"]["pack"])
    assert pack.name == "lm-lora-tiny.pack" and pack.exists()
    assert sorted(p.name for p in (pack.parent / "adapter").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]


def test_every_reply_was_an_adapter_or_a_refusal(lm_run: dict[str, Any], tiny_model: Any) -> None:
    shapes = lora.adapter_shapes(lora.twin(tiny_model.hf, lora.LoraSpec()))
    sent = [r for r in lm_run["grid"].sent if not r.has_error()]
    assert len(sent) + len([r for r in lm_run["grid"].sent if r.has_error()]) == 4
    for reply in sent:
        assert set(reply.content.keys()) == {"arrays", "metrics"}
        assert {k: tuple(a.shape) for k, a in reply.content["arrays"].items()} == shapes


def test_each_laptop_ledger_holds_what_it_reported(lm_run: dict[str, Any]) -> None:
    reported = lm_run["summary"]["epsilon"]
    totals = []
    for home, budget in zip(lm_run["homes"], (8.0, 5.0), strict=True):
        with Runtime.open(home) as rt:
            entries = PrivacyLedger(rt.db).entries("lm-lora:tiny")
        eps = [e.epsilon_total for e in entries]
        assert eps and eps == sorted(eps) and eps[-1] <= budget
        totals.append(eps[-1])
    assert sorted(reported.values()) == pytest.approx(sorted(totals))


def test_the_published_adapter_installs_on_a_laptop(
    lm_run: dict[str, Any],
    tiny_model: Any,
    cli,  # type: ignore[no-untyped-def]
    data_home: Path,
) -> None:
    from dataclasses import replace

    with Runtime.open(data_home) as rt:  # a laptop that runs the model on MLX only: nothing to rebuild for ONNX
        rt.catalog.add(replace(tiny_model.card, paths={k: tiny_model.card.paths[k] for k in ("hf", "mlx")}))
    published = lm_run["summary"]["published"]
    code, out, err = cli("federation", "import", published["pack"], "--trust-key", published["public_key"], "--json")
    assert code == 0, err
    done = json.loads(out)
    assert done["model"] == "tiny-lora" and done["meta"]["rounds"] == 2
    with Runtime.open(data_home) as rt:
        assert set(rt.catalog.get("tiny-lora").paths) == {"mlx", "adapter"}
    code, out, _ = cli("federation", "status", "--json")
    models = json.loads(out)["models"]
    assert models["tiny-lora"]["base"] == "tiny" and models["tiny-lora"]["trained"]["run_id"] == 9
