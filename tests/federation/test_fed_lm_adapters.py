"""A federated LoRA adapter comes back to the laptop: signed pack -> `federation import` -> `ask -m tiny-lora`.

The coordinator's pack is written by the real publishing code from a twin whose adapter is far from zero
(so using it or not shows in every logit). It is installed once for the module through the CLI, with
the ONNX model rebuilt at fp32 so the parity is exact; then what each backend runs is compared with the
PyTorch twin: MLX (base mlx folder + converted adapter) and ONNX (merged weights) give the same logits.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from edgefed import publish, task

from edgeprompt.app import Runtime
from edgeprompt.backends.base import Message
from edgeprompt.backends.chat import ChatFormat
from edgeprompt.federation import adapters, lora
from edgeprompt.federation.ledger import PrivacyLedger

QUESTION = "How often should I water the roses?"


def _trained_twin(hf: Path, seed: int = 3) -> Any:
    """A twin whose LoRA B matrices are not zero: what a few federated rounds would leave, only louder."""
    model = lora.twin(hf, lora.LoraSpec(rank=4, alpha=8.0), seed=seed)
    gen = torch.Generator().manual_seed(seed)
    lora.load_adapter_state(
        model, {k: v + 0.3 * torch.randn(v.shape, generator=gen) for k, v in lora.adapter_state(model).items()}
    )
    return model


def _pack(model: Any, hf: Path, out: Path, run_id: int = 5) -> dict[str, Any]:
    cfg = task.run_config(
        {
            "task": "lm-lora",
            "lm-model": "tiny",
            "lm-fingerprint": lora.fingerprint(hf),
            "signing-key": str(out / "coordinator.key"),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    trained = {"run_id": run_id, "rounds": 2, "clients": 2, "epsilon_max": 5.5}
    return publish.write_adapter_pack(model, cfg, trained, out)


def _cli(*argv: str) -> tuple[int, str]:
    from edgeprompt.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def installed(tiny_model: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("lm-adapter")
    home = base / "home"
    with Runtime.open(home) as rt:
        rt.catalog.add(tiny_model.card)
    model = _trained_twin(tiny_model.hf)
    published = _pack(model, tiny_model.hf, base / "coordinator")
    code, out = _cli(
        "federation",
        "import",
        published["pack"],
        "--trust-key",
        published["public_key"],
        "--onnx-precision",
        "fp32",
        "--json",
        "--home",
        str(home),
    )
    assert code == 0, out
    ids = ChatFormat(tiny_model.hf).encode([Message("user", QUESTION)])  # the prompt both backends run
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].numpy()
        base_logits = lora.load_base(tiny_model.hf)(input_ids=torch.tensor([ids])).logits[0].numpy()
    return {
        "home": home,
        "done": json.loads(out),
        "published": published,
        "ids": ids,
        "torch": logits,
        "base": base_logits,
    }


def test_import_makes_a_derived_model_card(installed: dict[str, Any], tiny_model: Any) -> None:
    done = installed["done"]
    assert done["model"] == "tiny-lora" and done["task"] == "lm-lora:tiny" and done["version"] == "fed-5"
    with Runtime.open(installed["home"]) as rt:
        card = rt.catalog.get("tiny-lora")
        events = [e["kind"] for e in PrivacyLedger(rt.db).events(5)]
    assert set(card.paths) == {"hf", "mlx", "adapter", "onnx"}
    assert card.path_for("mlx") == tiny_model.mlx  # the base's own mlx weights, the adapter on top
    assert (card.path_for("adapter") / "adapters.safetensors").exists()
    assert "onnx fp32" in card.quantization and "federated LoRA" in card.description
    assert events == ["imported"]
    doc = json.loads((Path(done["folder"]) / adapters.DESCRIPTION_FILE).read_text())
    assert doc["base"] == "tiny" and doc["trained"]["epsilon_max"] == 5.5
    config = json.loads((card.path_for("adapter") / "adapter_config.json").read_text())
    assert config["lora_parameters"] == {
        "rank": 4,
        "scale": 2.0,
        "dropout": 0.0,
        "keys": ["self_attn.k_proj", "self_attn.o_proj", "self_attn.q_proj", "self_attn.v_proj"],
    }


def test_mlx_with_the_converted_adapter_matches_the_twin(installed: dict[str, Any]) -> None:
    pytest.importorskip("mlx_lm")
    import mlx.core as mx

    from edgeprompt.backends.mlx import MlxBackend

    with Runtime.open(installed["home"]) as rt:
        backend = MlxBackend.load(rt.catalog.get("tiny-lora"))
    logits = np.array(backend.model(mx.array([installed["ids"]]))[0].astype(mx.float32))
    assert np.abs(installed["torch"] - installed["base"]).max() > 1.0  # the adapter changes the model a lot …
    assert np.abs(logits - installed["torch"]).max() < 1e-4  # … and MLX applies exactly that change


def test_merged_onnx_matches_the_twin(installed: dict[str, Any]) -> None:
    import onnxruntime_genai as og

    with Runtime.open(installed["home"]) as rt:
        folder = rt.catalog.get("tiny-lora").path_for("onnx")
    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(installed["ids"]) + 2)
    gen = og.Generator(model, params)
    gen.append_tokens(installed["ids"])
    last = np.asarray(gen.get_logits()).reshape(-1)  # the next token's logits after the prompt
    assert np.abs(last - installed["torch"][-1]).max() < 1e-4


@pytest.mark.parametrize("backend", ["onnx", "mlx"])
def test_ask_runs_the_adapted_model(installed: dict[str, Any], backend: str) -> None:
    home = str(installed["home"])
    runs = {}
    for model_id in ("tiny", "tiny-lora"):
        code, out = _cli(
            "ask",
            QUESTION,
            "-m",
            model_id,
            "--backend",
            backend,
            "--max-tokens",
            "8",
            "--temperature",
            "0",
            "--no-save",
            "--json",
            "--home",
            home,
        )
        assert code == 0, out
        runs[model_id] = json.loads(out)
    assert runs["tiny-lora"]["model"] == "tiny-lora" and runs["tiny-lora"]["backend"] == backend
    assert runs["tiny-lora"]["answer"] != runs["tiny"]["answer"]  # greedy answers differ: the adapter is in use


def test_an_adapter_for_other_weights_is_refused(
    installed: dict[str, Any],
    tmp_path: Path,
    cli,  # type: ignore[no-untyped-def]
    tiny_model: Any,
    data_home: Path,
) -> None:
    import shutil

    other = tmp_path / "other-hf"
    shutil.copytree(tiny_model.hf, other)
    with torch.no_grad():  # the same architecture with one weight nudged: another model as far as the adapter goes
        base = lora.load_base(other)
        base.model.norm.weight.add_(0.01)
        base.save_pretrained(str(other))
    published = _pack(_trained_twin(other), other, tmp_path / "coordinator")
    with Runtime.open(data_home) as rt:
        rt.catalog.add(tiny_model.card)
    code, _, err = cli("federation", "import", published["pack"], "--trust-key", published["public_key"])
    assert code == 2 and err.startswith("trusting key")  # the signature verified; the content is what is wrong
    assert "trained on other 'tiny' weights" in err.splitlines()[-1] and err.count("\n") == 2
    assert not (data_home / "models" / "tiny-lora").exists()
    with Runtime.open(data_home) as rt:
        assert not rt.catalog.has("tiny-lora")


def test_a_users_own_card_of_that_name_is_not_overwritten(
    installed: dict[str, Any],
    tiny_model: Any,
    cli,  # type: ignore[no-untyped-def]
    data_home: Path,
) -> None:
    from dataclasses import replace

    with Runtime.open(data_home) as rt:
        rt.catalog.add(tiny_model.card)
        rt.catalog.add(replace(tiny_model.card, id="tiny-lora", description="my own"))
    published = installed["published"]
    code, _, err = cli("federation", "import", published["pack"], "--trust-key", published["public_key"])
    assert code == 2 and "remove it first" in err.splitlines()[-1]
    with Runtime.open(data_home) as rt:
        assert rt.catalog.get("tiny-lora").description == "my own"


def test_lora_targets_compare_in_any_order() -> None:
    cfg = {"lora-rank": 4, "lora-alpha": 8.0}
    a = lora.LoraSpec.from_config({**cfg, "lora-targets": "v_proj, q_proj"})
    assert a == lora.LoraSpec.from_config({**cfg, "lora-targets": "q_proj,v_proj"})
    assert a == lora.LoraSpec.from_adapter_config({"r": 4, "lora_alpha": 8, "target_modules": ["v_proj", "q_proj"]})
