"""The language-model part of scripts/federation-demo (`--task lm-lora`).

One base model (the demo model, or the tiny test model with `--lm-size tiny`) is built once; every
simulated laptop registers the same weights as model "demo" (as real laptops would install the same
release) and gets its own rated and corrected answers (edgeprompt.federation.lmseeds: laptop 0 the
kitchen and walks, laptop 1 the garden and reading). The coordinator's run trains LoRA adapters with
DP-SGD; the signed pack is installed on each laptop as "demo-lora". Measured on the union of the
laptops' held-out approved answers: mean answer NLL (nats/token) of the base, of the federated adapter
and of adapters each laptop trains alone (same start, DP-SGD and epochs); parity of what the backends
run against the PyTorch twin; DP step time with and without Opacus.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from edgefed import lm_task, task

from edgeprompt.app import Runtime
from edgeprompt.federation import adapters, lmseeds, lora

MODEL_ID = "demo"
QUESTIONS = ("How do I make mint tea?", "When should I plant roses?")  # one topic from each laptop


def say(text: str) -> None:
    print(f"federation-demo: {text}", file=sys.stderr, flush=True)


def build_base(base: Path, size: str) -> Any:
    from edgeprompt.catalog.demo import build_model
    from edgeprompt.catalog.demo_train import DEMO, TINY

    t0 = time.monotonic()
    built = build_model(base / "model", TINY if size == "tiny" else DEMO, model_id=MODEL_ID)
    say(f"base model built in {time.monotonic() - t0:.0f}s ({built.stats['parameters'] / 1e6:.2f}M parameters)")
    return built


def seed_homes(base: Path, built: Any, clients: int, per_laptop: int) -> list[Path]:
    homes = [base / f"laptop{i}" for i in range(clients)]
    for i, home in enumerate(homes):
        with Runtime.open(home) as rt:
            rt.catalog.add(built.card)  # the same weights on every laptop
            n = lmseeds.seed_lm(rt.db, i, per_laptop, model=MODEL_ID)
        say(f"laptop{i}: {n} answers asked and rated or edited ({lmseeds.describe(i)})")
    return homes


def run_config(args: argparse.Namespace, built: Any, clients: int) -> dict[str, Any]:
    return {
        "task": lm_task.TASK,
        "lm-model": MODEL_ID,
        "lm-base": str(built.hf),
        "num-server-rounds": args.rounds,
        "min-nodes": clients,
        "noise-multiplier": args.sigma,
        "strategy": "fedavg",
    }


# -- measuring ------------------------------------------------------------------------------------------------
def _stack(parts: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    import numpy as np

    width = max(x.shape[1] for x, _ in parts)
    xs = [np.pad(x, ((0, 0), (0, width - x.shape[1]))) for x, _ in parts]
    ys = [np.pad(y, ((0, 0), (0, width - y.shape[1])), constant_values=lora.IGNORE) for _, y in parts]
    return np.concatenate(xs), np.concatenate(ys)


def _global_adapter(summary: dict[str, Any]) -> dict[str, Any]:
    from edgeprompt.signing import read_pack

    _, state = adapters.read_peft(read_pack(Path(summary["published"]["pack"]).read_bytes(), None).files)
    return state


def _nll(model: Any, state: dict[str, Any], data: tuple[Any, Any]) -> float:
    lora.load_adapter_state(model, state)
    return lora.mean_nll(model, *data)


def local_only(
    hf: Path, start: dict[str, Any], data: list[lm_task.LmData], cfg: dict[str, Any], rounds: int
) -> list[dict[str, Any]]:
    """Each laptop alone: the coordinator's round-0 adapter, the same DP-SGD for rounds × epochs, its own data."""
    spec = lora.LoraSpec.from_config(cfg)
    out = []
    for i, d in enumerate(data):
        model = lora.twin(hf, spec)
        lora.load_adapter_state(model, start)
        lm_task.train_dp(
            model,
            d.ids_train,
            d.labels_train,
            epochs=rounds * int(cfg["lm-local-epochs"]),
            batch_size=int(cfg["lm-batch-size"]),
            lr=float(cfg["lm-learning-rate"]),
            sigma=float(cfg["noise-multiplier"]),
            max_grad_norm=float(cfg["max-grad-norm"]),
            seed=11 + i,
        )
        out.append(lora.adapter_state(model))
    return out


def _step_cpu_s(step_model: Any, optimizer: Any, x: Any, y: Any, steps: int) -> float:
    """Median CPU seconds of one optimizer step on the same batch (1 torch thread: CPU time is steady
    while other jobs share the cores, wall time is not)."""
    times = []
    for _ in range(steps):
        t0 = time.process_time()
        optimizer.zero_grad()
        lora.example_nll(step_model, x, y).mean().backward()
        optimizer.step()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def dp_overhead(hf: Path, d: lm_task.LmData, cfg: dict[str, Any], steps: int = 15, repeats: int = 3) -> dict[str, Any]:
    """One step on a fixed batch of `lm-batch-size` examples, plain Adam vs Opacus (per-example gradients of
    the LoRA matrices, clipping, noise); repeats alternate and the median is reported."""
    import warnings

    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    task.set_threads()
    spec = lora.LoraSpec.from_config(cfg)
    b = min(int(cfg["lm-batch-size"]), d.n_train)
    x, y = torch.from_numpy(d.ids_train[:b]), torch.from_numpy(d.labels_train[:b])
    plain, dp = [], []
    for _ in range(repeats):
        model = lora.twin(hf, spec).train()
        params = [p for p in model.parameters() if p.requires_grad]
        plain.append(_step_cpu_s(model, torch.optim.Adam(params, lr=0.01), x, y, steps))
        model = lora.twin(hf, spec).train()
        params = [p for p in model.parameters() if p.requires_grad]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dp_model, opt, _ = PrivacyEngine(accountant="rdp").make_private(
                module=model,
                optimizer=torch.optim.Adam(params, lr=0.01),
                data_loader=DataLoader(TensorDataset(x, y), batch_size=b),
                noise_multiplier=1.0,
                max_grad_norm=1.0,
                poisson_sampling=False,
            )
            dp.append(_step_cpu_s(dp_model, opt, x, y, steps))
        dp_model._close()
    p, q = statistics.median(plain), statistics.median(dp)
    return {
        "step_cpu_s_plain": p,
        "step_cpu_s_dp": q,
        "ratio": q / max(p, 1e-9),
        "batch": b,
        "tokens_per_example": int(x.shape[1]),
        "steps": steps,
        "repeats": repeats,
    }


def parity(home: Path, twin: Any, state: dict[str, Any], hf: Path) -> dict[str, Any]:
    """What laptop `home` installed, against the twin with the published adapter, on one prompt's logits."""
    import numpy as np
    import torch

    from edgeprompt.backends.base import Message
    from edgeprompt.backends.chat import ChatFormat

    ids = ChatFormat(hf).encode([Message("user", QUESTIONS[0])])
    lora.load_adapter_state(twin, state)
    with torch.no_grad():
        want = twin(input_ids=torch.tensor([ids])).logits[0].numpy()
        base_want = lora.load_base(hf)(input_ids=torch.tensor([ids])).logits[0].numpy()
    with Runtime.open(home) as rt:
        card, base_card = rt.catalog.get(f"{MODEL_ID}{adapters.SUFFIX}"), rt.catalog.get(MODEL_ID)
    out: dict[str, Any] = {"prompt_tokens": len(ids), "adapter_effect": float(np.abs(want - base_want).max())}
    with contextlib.suppress(ImportError):
        import mlx.core as mx

        from edgeprompt.backends.mlx import MlxBackend

        got = np.array(MlxBackend.load(card).model(mx.array([ids]))[0].astype(mx.float32))
        out["mlx_max_abs_diff"] = float(np.abs(got - want).max())
    out["onnx_precision"] = adapters.base_onnx_precision(card)
    got = _onnx_last(card.path_for("onnx"), ids)
    out["onnx_max_abs_diff"] = float(np.abs(got - want[-1]).max())
    out["onnx_base_max_abs_diff"] = float(np.abs(_onnx_last(base_card.path_for("onnx"), ids) - base_want[-1]).max())
    out["onnx_same_argmax"] = bool(got.argmax() == want[-1].argmax())
    return out


def _onnx_last(folder: Path | None, ids: list[int]) -> Any:
    import numpy as np
    import onnxruntime_genai as og

    model = og.Model(str(folder))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + 2)
    gen = og.Generator(model, params)
    gen.append_tokens(ids)
    return np.asarray(gen.get_logits()).reshape(-1)


def answers(home: Path) -> list[dict[str, str]]:
    """Greedy answers of the installed ONNX models (the default backend here), base and adapted."""
    from edgeprompt.backends.base import GenerationParams, Message, Request
    from edgeprompt.backends.onnx import OnnxBackend

    out = []
    with Runtime.open(home) as rt:
        models = {m: OnnxBackend.load(rt.catalog.get(m)) for m in (MODEL_ID, f"{MODEL_ID}{adapters.SUFFIX}")}
    for q in QUESTIONS:
        row = {"question": q}
        for name, backend in models.items():
            req = Request((Message("user", q),), GenerationParams(max_tokens=40, temperature=0.0))
            row[name] = "".join(c.text for c in backend.stream(req)).strip()
        out.append(row)
    return out


def measure(args: argparse.Namespace, homes: list[Path], built: Any, summary: dict[str, Any]) -> dict[str, Any]:
    from edgeprompt.federation.ledger import PrivacyLedger

    cfg = task.run_config({**run_config(args, built, len(homes)), "seed": 0})
    hf = built.hf
    data, eps, eps_rounds = [], [], []
    for home in homes:
        with Runtime.open(home) as rt:
            data.append(lm_task.load_local(rt, hf, cfg))
            fed = rt.settings.section("federation")
            entries = PrivacyLedger(rt.db).entries(lm_task.ledger_key(MODEL_ID))
        eps.append(entries[-1].epsilon_total if entries else 0.0)
        eps_rounds.append([e.epsilon_round for e in entries])
    union = _stack([(d.ids_test, d.labels_test) for d in data])
    twin = lora.twin(hf, lora.LoraSpec.from_config(cfg), seed=int(cfg["seed"]))
    start, final = lora.adapter_state(twin), _global_adapter(summary)
    local = local_only(hf, start, data, cfg, summary["rounds_trained"])
    nll = {
        "initial": _nll(twin, start, union),
        "global": _nll(twin, final, union),
        "local": [_nll(twin, s, union) for s in local],
    }
    other = [_nll(twin, s, (data[1 - i].ids_test, data[1 - i].labels_test)) for i, s in enumerate(local)]
    global_by_laptop = [_nll(twin, final, (d.ids_test, d.labels_test)) for d in data]
    return {
        "clients": len(homes),
        "rounds": args.rounds,
        "epsilon": eps,
        "epsilon_per_round": eps_rounds,
        "epsilon_budget": float(fed["epsilon_budget"]),
        "delta": float(fed["delta"]),
        "nll_initial": nll["initial"],
        "nll_global": nll["global"],
        "nll_local": nll["local"],
        "perplexity_initial": math.exp(nll["initial"]),
        "perplexity_global": math.exp(nll["global"]),
        "perplexity_local": [math.exp(v) for v in nll["local"]],
        "nll_global_by_laptop": global_by_laptop,
        "nll_local_on_other_laptop": other,
        "task": lm_task.TASK,
        "model": MODEL_ID,
        "lm_size": args.lm_size,
        "train_examples": [d.n_train for d in data],
        "union_test_examples": len(union[0]),
        "lora": {
            "rank": int(cfg["lora-rank"]),
            "alpha": float(cfg["lora-alpha"]),
            "targets": cfg["lora-targets"],
            "trainable": sum(v.numel() for v in start.values()),
        },
        "dp": {k: cfg[k] for k in lm_task.DP_KEYS},
        "rounds_trained": summary["rounds_trained"],
        "run_id": summary["run_id"],
        "parity": parity(homes[0], twin, final, hf),
        "answers": answers(homes[0]),
        "dp_overhead": dp_overhead(hf, data[0], cfg),
    }


def report(r: dict[str, Any]) -> str:
    return (
        f"ε per laptop {[round(e, 3) for e in r['epsilon']]} (budget {r['epsilon_budget']:g}); held-out answer "
        f"NLL: base {r['nll_initial']:.3f}, federated {r['nll_global']:.3f}, local-only "
        f"{[round(v, 3) for v in r['nll_local']]}; MLX Δ {r['parity'].get('mlx_max_abs_diff', float('nan')):.1e}, "
        f"ONNX {r['parity']['onnx_precision']} Δ {r['parity']['onnx_max_abs_diff']:.3f}; DP step "
        f"{r['dp_overhead']['ratio']:.2f}x plain"
    )
