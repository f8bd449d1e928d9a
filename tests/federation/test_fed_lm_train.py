"""DP-SGD on the twin's LoRA adapters: only the adapter learns, the mechanism is what the ledger composes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from edgefed import lm_task

from edgeprompt.app import Runtime
from edgeprompt.federation import lmdata, lmseeds, lora
from edgeprompt.federation.ledger import PrivacyLedger

DELTA = 1e-5


@pytest.fixture(scope="module")
def tiny_examples(tiny_model: Any) -> tuple[np.ndarray, np.ndarray]:
    items = lmseeds.exchanges(lmseeds.LAPTOP_TOPICS[1], 24)
    return lora.encode(tiny_model.hf, [lmdata.ChatExample(i.question, i.answer, "thumbs", "") for i in items], 64)


def _base_weights(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}


def test_dp_step_changes_only_the_adapter(tiny_model: Any, tiny_examples: Any) -> None:
    ids, labels = tiny_examples
    model = lora.twin(tiny_model.hf, lora.LoraSpec(rank=4, alpha=8.0))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_A" in n or "lora_B" in n for n in trainable)
    assert {n.rsplit(".", 4)[-4] for n in trainable} == set(lora.TARGETS)  # q, k, v, o in every layer
    base, adapter = _base_weights(model), lora.adapter_state(model)
    stats = lm_task.train_dp(model, ids, labels, epochs=2, batch_size=8, lr=0.01, sigma=1.0, max_grad_norm=1.0)
    assert stats.mechanism == lm_task.task.plan(len(ids), 8, 2, 1.0)
    assert np.isfinite(stats.loss)
    after = _base_weights(model)
    assert all(torch.equal(base[n], after[n]) for n in base)  # the base model is frozen
    moved = lora.adapter_state(model)
    assert list(moved) == list(adapter)  # Opacus's wrapper left peft's names alone
    assert any(not torch.equal(adapter[k], moved[k]) for k in adapter)
    assert not any(getattr(p, "grad_sample", None) is not None for p in model.parameters())


def test_empty_poisson_batches_are_noise_steps_the_accountant_counts(tiny_model: Any, tiny_examples: Any) -> None:
    """q = 1/8 on 8 examples: some drawn batches are empty (a model cannot run them); each still counts."""
    ids, labels = tiny_examples[0][:8], tiny_examples[1][:8]
    model = lora.twin(tiny_model.hf, lora.LoraSpec())
    stats = lm_task.train_dp(model, ids, labels, epochs=3, batch_size=1, lr=0.01, sigma=1.0, max_grad_norm=1.0, seed=5)
    assert stats.mechanism == (1.0, 1 / 8, 24)


def test_epsilon_over_rounds_matches_opacus_accountant(
    lm_home: Path, lm_config: dict[str, Any], tiny_model: Any
) -> None:
    """Two rounds, each a fresh PrivacyEngine (as in fresh ClientApp processes), recorded in the ledger; ε
    equals Opacus's RDP accountant stepped through every one of those DP-SGD steps."""
    from opacus.accountants import RDPAccountant

    with Runtime.open(lm_home) as rt:
        data = lm_task.load_local(rt, tiny_model.hf, lm_config)
        ledger = PrivacyLedger(rt.db)
        key = lm_task.ledger_key("tiny")
        model = lora.twin(tiny_model.hf, lora.LoraSpec.from_config(lm_config))
        for rnd in (1, 2):
            stats = lm_task.train_with(model, data, lm_config, seed=rnd)
            assert stats.mechanism == lm_task.plan(data.n_train, lm_config)
            ledger.record(key, "run", rnd, stats.mechanism, DELTA, data.n_train)
        spent = ledger.spent(key, DELTA)
        assert ledger.tasks() == [key]
    reference = RDPAccountant()
    sigma, q, steps = stats.mechanism
    for _ in range(2 * steps):
        reference.step(noise_multiplier=sigma, sample_rate=q)
    assert spent == pytest.approx(reference.get_epsilon(DELTA), rel=1e-9)
    assert 0 < spent <= 8.0


def test_the_loss_learns_the_answers(tiny_model: Any, tiny_examples: Any) -> None:
    """Without noise, a few epochs on the adapter alone cut the answers' NLL: labels and masks are right."""
    ids, labels = tiny_examples
    model = lora.twin(tiny_model.hf, lora.LoraSpec(rank=8, alpha=16.0))
    before = lora.mean_nll(model, ids, labels)
    lm_task.train_plain(model, ids, labels, epochs=8, batch_size=8, lr=0.02)
    assert lora.mean_nll(model, ids, labels) < before - 0.1  # 5.04 -> 4.82 measured (a 64-wide toy model)


def test_received_adapter_must_fit_the_twin(tiny_model: Any) -> None:
    model = lora.twin(tiny_model.hf, lora.LoraSpec(rank=4))
    other = lora.adapter_state(lora.twin(tiny_model.hf, lora.LoraSpec(rank=8)))
    with pytest.raises(ValueError, match="LoRA layout"):
        lora.load_adapter_state(model, other)


def test_demo_dp_overhead_times_the_same_batch_with_and_without_opacus(tiny_model: Any, tiny_examples: Any) -> None:
    """The demo's overhead figure: CPU seconds per step on one fixed batch, plain Adam against Opacus."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "federation_demo_lm.py"
    spec = importlib.util.spec_from_file_location("federation_demo_lm", script)
    assert spec and spec.loader
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    ids, labels = tiny_examples
    data = lm_task.LmData(ids, labels, ids[:2], labels[:2], {})
    out = demo.dp_overhead(tiny_model.hf, data, lm_task.task.run_config({"lm-batch-size": 8}), steps=2, repeats=1)
    assert out["batch"] == 8 and out["tokens_per_example"] == ids.shape[1]
    assert out["step_cpu_s_plain"] > 0 and out["step_cpu_s_dp"] > 0
    assert out["ratio"] == pytest.approx(out["step_cpu_s_dp"] / out["step_cpu_s_plain"])
