"""The "lm-lora" task: DP-SGD on LoRA adapters of the laptop's language model, from answers its user
approved (thumbs up) or corrected (edits: the chosen side of each preference pair).

Supervised fine-tuning on the chosen answers (not DPO): each example's loss is the mean negative
log-likelihood of its answer tokens given the question in the model's chat template. Opacus clips each
example's gradient (only the LoRA matrices have one; the base model is frozen) and adds Gaussian noise;
the mechanism (σ, q, steps) goes into the same privacy ledger as the classifier heads, under the key
`lm-lora:<model id>`. Only the adapter's arrays leave the laptop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgefed import task
from edgeprompt.federation import lmdata, lora
from edgeprompt.federation.ledger import Mechanism

if TYPE_CHECKING:
    import numpy as np
    import torch

    from edgeprompt.app import Runtime

TASK = lora.TASK
ledger_key = lora.ledger_key

# sent with every round besides the shared keys, so a laptop trains exactly as configured
TRAIN_KEYS = (
    "task",
    "lm-model",
    "lm-fingerprint",
    "lora-rank",
    "lora-alpha",
    "lora-targets",
    "lm-max-tokens",
    "lm-local-epochs",
    "lm-batch-size",
    "lm-learning-rate",
    "noise-multiplier",
    "max-grad-norm",
    "test-fraction",
    "seed",
)
DP_KEYS = ("noise-multiplier", "max-grad-norm", "lm-batch-size", "lm-local-epochs", "lm-learning-rate")


@dataclass(frozen=True)
class LmData:
    ids_train: np.ndarray
    labels_train: np.ndarray
    ids_test: np.ndarray
    labels_test: np.ndarray
    counts: dict[str, int]  # chosen examples by source (thumbs, edit), before the split

    @property
    def n_train(self) -> int:
        return len(self.ids_train)


def split(examples: list[lmdata.ChatExample], test_fraction: float) -> tuple[list[lmdata.ChatExample], ...]:
    """By the question's hash, as for the heads: a question is held out on every laptop, every round."""
    train = [e for e in examples if not task.in_test_split(e.prompt, test_fraction)]
    return train, [e for e in examples if task.in_test_split(e.prompt, test_fraction)]


def load_local(rt: Runtime, hf: Path, cfg: dict[str, Any]) -> LmData:
    examples = lmdata.chosen_examples(rt.db)
    train, test = split(examples, float(cfg["test-fraction"]))
    x_tr, y_tr = lora.encode(hf, train, int(cfg["lm-max-tokens"]))
    x_te, y_te = lora.encode(hf, test, int(cfg["lm-max-tokens"]))
    return LmData(x_tr, y_tr, x_te, y_te, lmdata.counts(examples))


def model_folder(rt: Runtime, model_id: str) -> Path:
    """The laptop's Hugging Face folder for the model the coordinator named (its card's `hf` path)."""
    from edgeprompt.errors import FederationError

    hf = rt.catalog.get(model_id).path_for("hf")
    if hf is None or not hf.is_dir():
        raise FederationError(f"model '{model_id}' has no Hugging Face (hf) folder here to train adapters on")
    return hf


def check_base(hf: Path, cfg: dict[str, Any]) -> None:
    """This laptop's base model must be the coordinator's (same weights), or its update is meaningless."""
    mine = lora.fingerprint(hf)
    theirs = str(cfg.get("lm-fingerprint") or "")
    if theirs and theirs != mine:
        raise ValueError(
            f"this laptop's '{cfg['lm-model']}' weights ({mine}) are not the coordinator's base model ({theirs})"
        )


def plan(n_train: int, cfg: dict[str, Any]) -> Mechanism:
    return task.plan(n_train, int(cfg["lm-batch-size"]), int(cfg["lm-local-epochs"]), float(cfg["noise-multiplier"]))


# -- training ------------------------------------------------------------------------------------------------
def _trainable(model: Any) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def _noise_only(params: list[torch.nn.Parameter], optimizer: Any) -> None:
    """Poisson sampling drew no example: the step still happens, as noise only, as the accountant counts it.
    (The model cannot run a batch of zero sequences, so the empty per-example gradients are set directly.)"""
    import torch

    for p in params:
        p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype)
    optimizer.step()


def _epochs(step_model: Any, optimizer: Any, loader: Any, epochs: int, params: list[Any], dp: bool) -> float:
    total, count = 0.0, 0
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            if dp and not len(xb):
                _noise_only(params, optimizer)
                continue
            loss = lora.example_nll(step_model, xb, yb).mean()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(xb)
            count += len(xb)
    return total / max(1, count)


def train_dp(
    model: Any,
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    sigma: float,
    max_grad_norm: float,
    seed: int = 0,
) -> task.TrainStats:
    """Opacus DP-SGD (Adam on the privatized gradient) on the adapter: per-example clipping to
    `max_grad_norm`, noise σ·C, Poisson sampling, RDP accountant. The base weights never change."""
    import torch

    torch.manual_seed(seed)
    model.train()
    params = _trainable(model)
    optimizer = torch.optim.Adam(params, lr=lr)
    stats = task.run_private(
        model,
        optimizer,
        task.loader(ids, labels, batch_size, seed),
        sigma,
        max_grad_norm,
        epochs,
        lambda dp_model, dp_opt, dp_loader: _epochs(dp_model, dp_opt, dp_loader, epochs, params, dp=True),
    )
    for p in params:
        p.grad_sample = None
    model.eval()
    return stats


def train_plain(
    model: Any, ids: np.ndarray, labels: np.ndarray, *, epochs: int, batch_size: int, lr: float, seed: int = 0
) -> task.TrainStats:
    """The same loop without Opacus: the DP overhead baseline and the no-privacy reference (never sent)."""
    import torch

    torch.manual_seed(seed)
    model.train()
    params = _trainable(model)
    t0 = time.perf_counter()
    loss = _epochs(
        model, torch.optim.Adam(params, lr=lr), task.loader(ids, labels, batch_size, seed), epochs, params, dp=False
    )
    model.eval()
    return task.TrainStats(loss, None, time.perf_counter() - t0, epochs)


def train_with(model: Any, data: LmData, cfg: dict[str, Any], seed: int) -> task.TrainStats:
    return train_dp(
        model,
        data.ids_train,
        data.labels_train,
        epochs=int(cfg["lm-local-epochs"]),
        batch_size=int(cfg["lm-batch-size"]),
        lr=float(cfg["lm-learning-rate"]),
        sigma=float(cfg["noise-multiplier"]),
        max_grad_norm=float(cfg["max-grad-norm"]),
        seed=seed,
    )
